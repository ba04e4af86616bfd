"""Point-in-time choice of the champion for a session."""

import datetime as dt

from market_assets.tracking.history import ChampionRecord, champion_for


def test_a_session_is_served_by_the_latest_champion_trained_on_or_before_it():
    history = [ChampionRecord("1", dt.date(2024, 1, 7), {}), ChampionRecord("3", dt.date(2024, 1, 21), {})]
    assert champion_for(history, dt.date(2024, 1, 6)) is None
    assert champion_for(history, dt.date(2024, 1, 7)).version == "1"
    assert champion_for(history, dt.date(2024, 1, 20)).version == "1"
    assert champion_for(history, dt.date(2024, 2, 1)).version == "3"


def test_the_history_records_the_run_of_each_champion(store, log_ridge) -> None:
    from market_assets.quant.promotion import decide_promotion
    from market_assets.tracking import promote_or_challenge
    from market_assets.tracking.history import champion_history

    name = "history_runs"
    logged, _ = log_ridge(store, name, tags={"train_end": "2024-01-07"})
    promote_or_challenge(store, name, logged.version, decide_promotion(0.02, None, margin=0.0))
    (record,) = champion_history(store, name)
    assert (record.version, record.train_end, record.run_id) == (logged.version, dt.date(2024, 1, 7), logged.run_id)
