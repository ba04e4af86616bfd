"""PurgedWalkForwardSplit: golden layout, purge, embargo, dates on one side."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from market_assets.quant.cv import PurgedWalkForwardSplit

N_SESSIONS, N_SYMBOLS = 20, 3


def _dates(shuffle: bool = True) -> np.ndarray:
    start = dt.date(2024, 1, 1)
    dates = np.repeat([start + dt.timedelta(days=i) for i in range(N_SESSIONS)], N_SYMBOLS)
    return np.random.default_rng(0).permutation(dates) if shuffle else dates


def _session_of(dates: np.ndarray) -> np.ndarray:
    return np.unique(dates, return_inverse=True)[1]


def test_golden_layout_expanding() -> None:
    cv = PurgedWalkForwardSplit(n_splits=3, horizon=2, embargo=1, min_train_sessions=5)
    folds = cv.session_folds(N_SESSIONS)
    # first test session = 5 + 2 + 1 = 8; sessions 8..19 split in three blocks of 4
    assert [f[1].tolist() for f in folds] == [[8, 9, 10, 11], [12, 13, 14, 15], [16, 17, 18, 19]]
    assert [f[0].tolist() for f in folds] == [list(range(5)), list(range(9)), list(range(13))]


def test_sliding_window_keeps_min_train_sessions() -> None:
    cv = PurgedWalkForwardSplit(n_splits=3, horizon=2, embargo=1, min_train_sessions=5, expanding=False)
    assert [f[0].tolist() for f in cv.session_folds(N_SESSIONS)] == [
        list(range(0, 5)), list(range(4, 9)), list(range(8, 13))]


@pytest.mark.parametrize(("horizon", "embargo"), [(1, 0), (2, 1), (5, 3)])
def test_no_train_label_window_overlaps_the_test_fold_and_embargo_holds(horizon: int, embargo: int) -> None:
    dates = _dates()
    session = _session_of(dates)
    cv = PurgedWalkForwardSplit(n_splits=3, horizon=horizon, embargo=embargo, min_train_sessions=3)
    splits = list(cv.split(dates))
    assert len(splits) == cv.get_n_splits() == 3
    for train, test in splits:
        test_sessions = set(session[test].tolist())
        for t in set(session[train].tolist()):
            window = set(range(t, t + horizon + 1))  # label of t uses sessions t .. t+h
            assert not window & test_sessions
        # embargo: `embargo` more sessions between the last label close and the test fold
        assert session[train].max() + horizon + embargo < session[test].min()
        assert session[train].max() + horizon + embargo == session[test].min() - 1


def test_every_date_lies_on_one_side_and_tests_tile_the_tail() -> None:
    dates = _dates()
    session = _session_of(dates)
    tested = []
    for train, test in PurgedWalkForwardSplit(4, 1, 0, 4).split(dates):
        assert not set(session[train]) & set(session[test])
        for s in set(session[test]):  # all symbols of a test date are in the test fold
            assert np.sum(session[test] == s) == N_SYMBOLS
        assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
        tested.extend(sorted(set(session[test].tolist())))
    assert tested == list(range(5, N_SESSIONS))


def test_embargo_widens_the_gap_before_each_test_fold() -> None:
    for embargo in (0, 3):
        for train, test in PurgedWalkForwardSplit(2, 1, embargo, 5).session_folds(N_SESSIONS):
            assert test.min() - train.max() - 1 == 1 + embargo  # horizon + embargo sessions left out


def test_too_few_sessions_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"20 sessions are too few .* need .* = 23"):
        PurgedWalkForwardSplit(n_splits=3, horizon=5, embargo=5, min_train_sessions=10).session_folds(20)


@pytest.mark.parametrize("kwargs", [{"n_splits": 0}, {"horizon": 0}, {"embargo": -1}, {"min_train_sessions": 0}])
def test_invalid_parameters(kwargs: dict) -> None:
    args = {"n_splits": 2, "horizon": 1, "embargo": 0, "min_train_sessions": 5} | kwargs
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"{name} must be an integer"):
        PurgedWalkForwardSplit(**args)


def test_time_units_are_sessions_with_dates_and_rows_without() -> None:
    from market_assets.quant.cv import time_units

    dates = np.array(["2024-01-03", "2024-01-02", "2024-01-03", "2024-01-02"], dtype="datetime64[D]")
    np.testing.assert_array_equal(time_units(4, dates), [1, 0, 1, 0])
    np.testing.assert_array_equal(time_units(3), [0, 1, 2])
    with pytest.raises(ValueError, match=r"one session date per row \(3 rows\), got shape \(4,\)"):
        time_units(3, dates)


def test_forward_splits_golden_and_fallback_gap() -> None:
    from market_assets.quant.cv import fallback_gap_rows, forward_splits

    units = np.repeat(np.arange(6), 2)  # 6 sessions x 2 symbols
    (train, test), = forward_splits(units, [np.array([4, 5])], gap=2)
    assert train.tolist() == [0, 1, 2, 3] and test.tolist() == [8, 9, 10, 11]
    assert fallback_gap_rows(10) == 1 and fallback_gap_rows(1000) == 20
    with pytest.raises(ValueError, match="leaves no training unit after a gap of 3"):
        forward_splits(units, [np.array([2, 3])], gap=3)
