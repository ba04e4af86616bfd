"""Point-in-time choice of the champion for a session."""

import datetime as dt

from market_assets.tracking.history import ChampionRecord, champion_for


def test_a_session_is_served_by_the_latest_champion_trained_on_or_before_it():
    history = [ChampionRecord("1", dt.date(2024, 1, 7), {}), ChampionRecord("3", dt.date(2024, 1, 21), {})]
    assert champion_for(history, dt.date(2024, 1, 6)) is None
    assert champion_for(history, dt.date(2024, 1, 7)).version == "1"
    assert champion_for(history, dt.date(2024, 1, 20)).version == "1"
    assert champion_for(history, dt.date(2024, 2, 1)).version == "3"
