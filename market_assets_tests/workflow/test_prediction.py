"""Which champion may serve a session: trained before it, and within the declared lineage window."""

import datetime as dt

import pytest

from market_assets.tracking.history import ChampionRecord
from market_assets.workflow.prediction import NoChampionError, _check_servable

CALENDAR = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(100)]
POSITION = {d: i for i, d in enumerate(CALENDAR)}


def test_a_session_without_an_earlier_champion_is_refused():
    with pytest.raises(NoChampionError, match=r"no champion of m was trained before 2024-01-11"):
        _check_servable("m", None, [CALENDAR[10]], CALENDAR, POSITION, max_age=50)


def test_a_champion_older_than_the_declared_window_is_refused():
    old = ChampionRecord("3", CALENDAR[5], {})
    _check_servable("m", old, [CALENDAR[50], CALENDAR[55]], CALENDAR, POSITION, max_age=50)  # 50 sessions: fine
    with pytest.raises(NoChampionError, match=r"v3, trained for the week of 2024-01-06: more than 50 sessions"):
        _check_servable("m", old, [CALENDAR[50], CALENDAR[56]], CALENDAR, POSITION, max_age=50)
