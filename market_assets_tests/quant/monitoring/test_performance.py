"""Realised returns, the judging timeline, rolling metrics and floors on tiny literal frames."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from market_assets.quant.performance import (
    PerformanceFloors,
    judge_performance,
    performance_at,
    realized_returns,
    rolling_performance,
)

DAYS = [dt.date(2024, 3, d) for d in (4, 5, 6, 7, 8, 11, 12, 13, 14, 15)]
SYMBOLS = ["AAA", "BBB", "CCC", "DDD"]
# adj_close per symbol over the ten sessions
CLOSES = {
    "AAA": [10.0, 11.0, 12.1, 12.1, 11.0, 11.0, 12.0, 13.0, 12.0, 12.5],
    "BBB": [20.0, 19.0, 19.5, 20.5, 21.0, 20.0, 19.0, 19.5, 20.0, 21.0],
    "CCC": [5.0, 5.5, 5.0, 5.25, 5.5, 5.75, 5.5, 5.0, 5.2, 5.4],
    "DDD": [8.0, 8.0, 8.4, 8.2, 8.0, 8.8, 9.0, 9.5, 9.0, 8.5],
}


def _prices(drop: tuple[str, dt.date] | None = None) -> pl.DataFrame:
    rows = [(d, s, CLOSES[s][i]) for i, d in enumerate(DAYS) for s in SYMBOLS if (s, d) != drop]
    return pl.DataFrame(rows, schema={"date": pl.Date, "symbol": pl.String, "adj_close": pl.Float64}, orient="row")


def _perfect_predictions(realized: pl.DataFrame, noise: float = 0.0, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return realized.select(
        "date", "symbol", "horizon",
        (pl.col("realized_return") + pl.Series(rng.normal(0, noise, realized.height))).alias("prediction"),
    )


def test_realized_returns_are_known_at_the_close_of_t_plus_h() -> None:
    realized = realized_returns(_prices(), (1, 2), DAYS[4])
    one = realized.filter(pl.col("horizon") == 1)
    assert one["date"].unique().sort().to_list() == DAYS[:4]            # t+1 <= asof: t <= DAYS[3]
    assert realized.filter(pl.col("horizon") == 2)["date"].max() == DAYS[2]
    row = one.filter((pl.col("symbol") == "AAA") & (pl.col("date") == DAYS[1])).row(0, named=True)
    assert row["realized_return"] == pytest.approx(12.1 / 11.0 - 1) and row["known_at"] == DAYS[2]
    assert realized.schema["horizon"] == pl.Int32
    assert realized["known_at"].max() <= DAYS[4]


def test_a_missing_session_pushes_the_symbols_window_one_row_further() -> None:
    realized = realized_returns(_prices(drop=("BBB", DAYS[2])), (1,), DAYS[9])
    row = realized.filter((pl.col("symbol") == "BBB") & (pl.col("date") == DAYS[1])).row(0, named=True)
    assert row["known_at"] == DAYS[3] and row["realized_return"] == pytest.approx(20.5 / 19.0 - 1)


def test_the_one_session_prediction_for_t_is_judged_at_the_close_of_t_plus_1() -> None:
    realized = realized_returns(_prices(), (1,), DAYS[9])
    predictions = _perfect_predictions(realized).filter(pl.col("date") == DAYS[5])
    before = performance_at(predictions, realized, DAYS[5], window=1)
    after = performance_at(predictions, realized, DAYS[6], window=1)
    assert before.row(0, named=True)["n"] == 0 and np.isnan(before.row(0, named=True)["rank_ic"])
    assert after.row(0, named=True)["n"] == 4
    assert after.row(0, named=True)["first_session"] == DAYS[5] == after.row(0, named=True)["last_session"]


def test_window_and_metrics_per_horizon() -> None:
    realized = realized_returns(_prices(), (1, 2), DAYS[9])
    predictions = _perfect_predictions(realized, noise=0.02, seed=1)
    metrics = performance_at(predictions, realized, DAYS[6], window=3)
    h1, h2 = metrics.row(0, named=True), metrics.row(1, named=True)
    assert (h1["horizon"], h1["first_session"], h1["last_session"], h1["n_sessions"], h1["n"]) == (
        1, DAYS[3], DAYS[5], 3, 12)
    assert (h2["horizon"], h2["first_session"], h2["last_session"]) == (2, DAYS[2], DAYS[4])
    # golden: recompute h=1 by hand on its window
    rows = predictions.join(realized, on=["date", "symbol", "horizon"]).filter(
        (pl.col("horizon") == 1) & pl.col("date").is_in(DAYS[3:6]))
    y, p = rows["realized_return"].to_numpy(), rows["prediction"].to_numpy()
    ics = [np.corrcoef(g["prediction"], g["realized_return"])[0, 1] for _, g in rows.group_by("date")]
    assert h1["ic"] == pytest.approx(np.mean(ics), rel=1e-12)
    assert h1["rmse"] == pytest.approx(np.sqrt(np.mean((y - p) ** 2)), rel=1e-12)
    assert h1["directional_accuracy"] == pytest.approx(np.mean((y > 0) == (p > 0)))
    assert h1["r2"] == pytest.approx(1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2), rel=1e-12)


def test_perfect_predictions_score_perfectly_and_by_model_version_splits_the_window() -> None:
    realized = realized_returns(_prices(), (1,), DAYS[9])
    predictions = _perfect_predictions(realized).with_columns(
        model_version=pl.when(pl.col("date") < DAYS[5]).then(pl.lit("m/1")).otherwise(pl.lit("m/2")))
    whole = performance_at(predictions, realized, DAYS[9], window=6).row(0, named=True)
    assert (whole["rank_ic"], whole["directional_accuracy"], whole["rmse"], whole["r2"]) == pytest.approx(
        (1.0, 1.0, 0.0, 1.0))
    split = performance_at(predictions, realized, DAYS[9], window=6, by=("horizon", "model_version"))
    assert split.select("model_version", "n_sessions").rows() == [("m/1", 2), ("m/2", 4)]


def test_judge_performance_passes_fails_and_abstains() -> None:
    metrics = pl.DataFrame({
        "horizon": [1, 5, 20], "asof": [DAYS[9]] * 3, "n_sessions": [20, 20, 3],
        "ic": [0.05, 0.01, 0.2], "rank_ic": [0.04, -0.02, 0.1], "directional_accuracy": [0.51, 0.44, 0.6],
        "rmse": [0.02, 0.2, 0.05], "r2": [-0.01, -0.5, 0.0], "mae": [0.01] * 3,
        "icir": [0.1] * 3, "rank_icir": [float("nan")] * 3,
    })
    verdict = judge_performance(metrics)
    assert verdict["metric"].unique().sort().to_list() == ["directional_accuracy", "rank_ic", "rmse"]
    h5 = {r["metric"]: r for r in verdict.filter(pl.col("horizon") == 5).iter_rows(named=True)}
    assert h5["directional_accuracy"]["passed"] is False and h5["directional_accuracy"]["threshold"] == 0.45
    assert h5["rank_ic"]["passed"] is False and h5["rmse"]["passed"] is False
    assert h5["rmse"]["comparison"] == "<=" and h5["rmse"]["observed"] == 0.2
    assert verdict.filter(pl.col("horizon") == 1)["passed"].to_list() == [True, True, True]
    h20 = verdict.filter(pl.col("horizon") == 20)
    assert h20["passed"].null_count() == 3 and "fewer than min_sessions=10" in h20["reason"][0]
    strict = judge_performance(metrics, PerformanceFloors(r2_min=0.0, rank_ic_min=None, min_sessions=1))
    assert strict.filter(pl.col("metric") == "r2")["passed"].to_list() == [False, False, True]


def test_a_horizon_without_closed_windows_is_undefined_not_failed() -> None:
    realized = realized_returns(_prices(), (1, 5), DAYS[1])
    predictions = _perfect_predictions(realized_returns(_prices(), (1, 5), DAYS[9]))
    metrics = performance_at(predictions, realized, DAYS[1])
    h5 = metrics.filter(pl.col("horizon") == 5).row(0, named=True)
    assert h5["n"] == 0 and h5["first_session"] is None
    assert judge_performance(metrics, PerformanceFloors(min_sessions=0)).filter(
        pl.col("horizon") == 5)["passed"].null_count() == 3


def test_rolling_performance_stacks_evaluation_sessions() -> None:
    realized = realized_returns(_prices(), (1,), DAYS[9])
    predictions = _perfect_predictions(realized, noise=0.01)
    frame = rolling_performance(predictions, realized, DAYS[5:8], window=2)
    assert frame["asof"].to_list() == DAYS[5:8]
    assert frame["last_session"].to_list() == DAYS[4:7]


def test_inputs_are_checked() -> None:
    realized = realized_returns(_prices(), (1,), DAYS[9])
    with pytest.raises(ValueError, match=r"predictions has no column\(s\) \['prediction'\]"):
        performance_at(realized, realized, DAYS[9])
    with pytest.raises(ValueError, match="window=0"):
        performance_at(_perfect_predictions(realized), realized, DAYS[9], window=0)
    with pytest.raises(ValueError, match="start with 'horizon'"):
        performance_at(_perfect_predictions(realized), realized, DAYS[9], by=("model_version",))
