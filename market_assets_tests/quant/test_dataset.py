"""training_frame purge / embargo / window rules and model_input_check."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from market_assets.quant.dataset import ModelInputError, model_input_check, target_column, training_frame

# ten sessions: 2024-01-02 .. 2024-01-16 without weekends and without 2024-01-15 (holiday)
SESSIONS = [dt.date(2024, 1, d) for d in (2, 3, 4, 5, 8, 9, 10, 11, 12, 16)]
SYMBOLS = ("AAA", "BBB")


def _frames(horizon: int = 2) -> tuple[pl.DataFrame, pl.DataFrame]:
    rows = [(d, s, float(i), float(10 * i + j)) for i, d in enumerate(SESSIONS) for j, s in enumerate(SYMBOLS)]
    features = pl.DataFrame(rows, schema=["date", "symbol", "session", "x"], orient="row")
    labels = features.select(
        "date", "symbol", pl.col("x").mul(0.001).alias(f"fwd_ret_{horizon}"),
        (pl.col("x") % 2).alias(f"fwd_dir_{horizon}"),
    )
    return features, labels


def test_purge_and_embargo_keep_only_closed_label_windows() -> None:
    features, labels = _frames()
    # train_end = SESSIONS[7] -> 7 sessions precede it; row i qualifies iff i + 2 + 1 < 7
    X, y, meta = training_frame(
        features, labels, target="fwd_ret", horizon=2, train_end=SESSIONS[7], sessions=SESSIONS, embargo=1
    )
    assert meta["date"].unique().sort().to_list() == SESSIONS[:4]
    assert (meta["label_end"] < SESSIONS[7]).all()
    assert meta["label_end"].to_list() == [SESSIONS[i + 2] for i in range(4) for _ in SYMBOLS]
    assert X.columns == ["session", "x"]
    np.testing.assert_allclose(y, X["x"].to_numpy() * 0.001)


def test_without_embargo_the_last_row_closes_the_session_before_train_end() -> None:
    features, labels = _frames()
    _, _, meta = training_frame(
        features, labels, target="fwd_ret_2", horizon=2, train_end=SESSIONS[7], sessions=SESSIONS
    )
    assert meta["date"].max() == SESSIONS[4]
    assert meta["label_end"].max() == SESSIONS[6]


def test_train_end_on_a_holiday_counts_the_sessions_before_it() -> None:
    features, labels = _frames()
    holiday = dt.date(2024, 1, 15)  # 9 sessions precede it -> rows i <= 6 qualify with h=2
    _, _, meta = training_frame(features, labels, target="fwd_ret", horizon=2, train_end=holiday, sessions=SESSIONS)
    assert meta["date"].max() == SESSIONS[6]


def test_sliding_window_keeps_the_last_qualifying_sessions() -> None:
    features, labels = _frames()
    _, _, meta = training_frame(
        features, labels, target="fwd_ret", horizon=2, train_end=SESSIONS[7], sessions=SESSIONS, window=2
    )
    assert meta["date"].unique().sort().to_list() == SESSIONS[3:5]


def test_rows_with_null_target_are_dropped_and_null_features_kept() -> None:
    features, labels = _frames()
    labels = labels.with_columns(
        pl.when((pl.col("symbol") == "AAA") & (pl.col("date") == SESSIONS[1])).then(None)
        .otherwise(pl.col("fwd_ret_2")).alias("fwd_ret_2")
    )
    features = features.with_columns(pl.when(pl.col("date") == SESSIONS[0]).then(None).otherwise(pl.col("x")).alias("x"))
    X, y, meta = training_frame(features, labels, target="fwd_ret", horizon=2, train_end=SESSIONS[7], sessions=SESSIONS)
    assert meta.height == 2 * 5 - 1
    assert X["x"].null_count() == 2
    assert not np.isnan(y).any()


def test_changing_the_future_does_not_move_the_training_frame() -> None:
    features, labels = _frames()
    before = training_frame(features, labels, target="fwd_ret", horizon=2, train_end=SESSIONS[7], sessions=SESSIONS)
    future = pl.col("date") >= SESSIONS[5]
    features2 = features.with_columns(pl.when(future).then(-999.0).otherwise(pl.col("x")).alias("x"))
    labels2 = labels.with_columns(pl.when(future).then(99.0).otherwise(pl.col("fwd_ret_2")).alias("fwd_ret_2"))
    after = training_frame(features2, labels2, target="fwd_ret", horizon=2, train_end=SESSIONS[7], sessions=SESSIONS)
    assert before.X.equals(after.X) and before.meta.equals(after.meta)
    np.testing.assert_array_equal(before.y, after.y)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"target": "fwd_ret_5"}, "disagrees with horizon=2"),
        ({"target": "close"}, "unknown target 'close'"),
        ({"target": "fwd_class"}, "labels have no column 'fwd_class_2'"),
        ({"embargo": -1}, "embargo must be >= 0"),
        ({"window": 0}, "window must be None"),
        ({"train_end": SESSIONS[2]}, "no training rows"),
        ({"sessions": SESSIONS[1:]}, r"not in `sessions`, e.g. \[datetime.date\(2024, 1, 2\)\]"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, match: str) -> None:
    features, labels = _frames()
    args = {"target": "fwd_ret", "horizon": 2, "train_end": SESSIONS[7], "sessions": SESSIONS} | kwargs
    with pytest.raises(ValueError, match=match):
        training_frame(features, labels, **args)


def test_target_column_accepts_family_or_full_name() -> None:
    assert target_column("fwd_dir", 5) == "fwd_dir_5"
    assert target_column("fwd_logret_20", 20) == "fwd_logret_20"


def test_model_input_check_returns_expected_columns_in_order() -> None:
    frame = pl.DataFrame({"date": [SESSIONS[0]], "symbol": ["AAA"], "b": [1.0], "a": [2.0]})
    out = model_input_check(frame, ["a", "b"], {"a": pl.Float64, "b": pl.Float64})
    assert out.columns == ["a", "b"]


def test_model_input_check_names_every_problem() -> None:
    frame = pl.DataFrame({"a": [1.0, None], "c": [1, 2], "d": ["x", "y"]})
    with pytest.raises(ModelInputError) as info:
        model_input_check(frame, ["a", "b", "c"], {"a": pl.Float64, "c": pl.Float64})
    message = str(info.value)
    assert "missing column(s) ['b']" in message
    assert "unexpected column(s) ['d']" in message
    assert "column 'c' has dtype Int64, expected Float64" in message
    assert "column 'a' has 1 null(s) out of 2 rows" in message


def test_model_input_check_allows_nulls_outside_required() -> None:
    frame = pl.DataFrame({"a": [1.0, None], "b": [1.0, 2.0]})
    model_input_check(frame, ["a", "b"], required=["b"])
    with pytest.raises(ModelInputError, match="'a' has 1 null"):
        model_input_check(frame, ["a", "b"])


def test_rows_between_cuts_a_period_out_of_a_longer_history() -> None:
    from market_assets.quant.dataset import rows_between

    features, _ = _frames()
    cut = rows_between(features, SESSIONS[2], SESSIONS[7])
    assert cut["date"].unique().sort().to_list() == SESSIONS[2:7]
    assert rows_between(features, None, SESSIONS[1])["date"].to_list() == [SESSIONS[0]] * 2
    shuffled = features.sample(fraction=1.0, shuffle=True, seed=1)  # unsorted input: filtered, same rows
    assert rows_between(shuffled, SESSIONS[2], SESSIONS[7]).sort("date", "symbol").equals(cut)
    holiday = dt.date(2024, 1, 15)  # a cut-off that is not a session still excludes nothing before it
    assert rows_between(features, None, holiday)["date"].max() == SESSIONS[8]
    assert rows_between(features, SESSIONS[5], SESSIONS[5]).height == 0
