"""backtest_results / backtest_state (chained session by session) and backtest_summary through Dagster."""

import datetime as dt
import json

import dagster as dg
import numpy as np
import polars as pl
import pytest

from market_assets.defs.assets.backtests import (
    BacktestRunConfig,
    backtest_job,
    backtest_step,
    backtest_summary,
    check_chain,
    stored_sessions,
)
from market_assets.defs.columns import column_description
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.partitions import SESSIONS
from market_assets.quant.backtest import run_backtest
from market_assets.sources import build_source
from market_assets.sources.synthetic import planted_predictor

PRICES = build_source("synthetic", n_symbols=12, signal_strength=0.3, seed=7).fetch(
    dt.date(2024, 1, 2), dt.date(2024, 3, 15))
DATES = sorted(PRICES["date"].unique().to_list())
TRADED = DATES[6:46]  # 40 sessions with predictions; DATES[5] is the walk-forward's starting close
# Missing bars, as validation leaves them: one on the close the single-session run continues from.
HOLES = [(DATES[12], "SYN001"), (DATES[13], "SYN001"), (DATES[30], "SYN004"), (DATES[44], "SYN007")]
STEP = {"backtest_step": {"config": {"top_k": 3, "n_drop": 2}}}
SUMMARY = {"backtest_summary": {"config": {"n_resamples": 200}}}
UPSTREAMS = [
    dg.AssetSpec(name, partitions_def=SESSIONS).with_io_manager_key("parquet_io_manager")
    for name in ("predictions", "validated_prices")
]
RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
PNG = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.slow


def _validated() -> pl.DataFrame:
    keep = ~pl.any_horizontal([(pl.col("date") == d) & (pl.col("symbol") == s) for d, s in HOLES])
    return PRICES.filter(keep)


def _predictions(train_lag_days: int = 3) -> pl.DataFrame:
    """The planted predictor as the champion's forecast, from a model trained ``train_lag_days`` before."""
    predictor = planted_predictor(_validated()).drop_nulls("predictor").filter(pl.col("date").is_in(TRADED))
    return predictor.select(
        "date", "symbol", pl.lit(1, dtype=pl.Int32).alias("horizon"), pl.col("predictor").alias("prediction"),
        (pl.col("predictor") - 1.0).alias("interval_low"), (pl.col("predictor") + 1.0).alias("interval_high"),
        pl.lit("regression_h1/3").alias("model_version"),
        (pl.col("date") - pl.duration(days=train_lag_days)).alias("model_train_end"),
    )


def _write_store(root, predictions: pl.DataFrame) -> None:
    """validated_prices and predictions partitions in the IO manager's layout."""
    for asset, frame in (("validated_prices", _validated()), ("predictions", predictions)):
        for (session,), part in frame.partition_by("date", as_dict=True).items():
            path = root / asset / f"{session.isoformat()}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            part.write_parquet(path)


def _resources(root) -> dict:
    return {"parquet_io_manager": PartitionedParquetIOManager(root=str(root))}


def _materialize(root, instance, start: dt.date, end: dt.date, step=STEP, **kwargs):
    return dg.materialize(
        [*UPSTREAMS, backtest_step, backtest_summary], selection=["backtest_state", "backtest_results"],
        resources=_resources(root), instance=instance, run_config={"ops": step},
        tags={RANGE[0]: start.isoformat(), RANGE[1]: end.isoformat()}, **kwargs,
    )


def _by_partition(result, asset: str) -> dict[str, dict]:
    return {
        event.partition: {k: v.value for k, v in event.materialization.metadata.items()}
        for event in result.get_asset_materialization_events() if event.asset_key.to_user_string() == asset
    }


def _stored(root, asset: str) -> pl.DataFrame:
    return pl.read_parquet(str(root / asset / "*.parquet")).sort("date")


@pytest.fixture(scope="module")
def walk_forward(tmp_path_factory):
    """Store A: a range run, then the last session alone through backtest_job; store B: one range run."""
    a, b = tmp_path_factory.mktemp("chained"), tmp_path_factory.mktemp("whole")
    for root in (a, b):
        _write_store(root, _predictions())
    defs = dg.Definitions(assets=[*UPSTREAMS, backtest_step, backtest_summary], jobs=[backtest_job],
                          resources=_resources(a))
    with dg.instance_for_test() as instance_a, dg.instance_for_test() as instance_b:
        ranged = _materialize(a, instance_a, TRADED[0], TRADED[-2])
        single = defs.resolve_job_def("backtest_job").execute_in_process(
            partition_key=TRADED[-1].isoformat(), instance=instance_a, run_config={"ops": STEP | SUMMARY})
        whole = _materialize(b, instance_b, TRADED[0], TRADED[-1])
        yield {"a": a, "b": b, "ranged": ranged, "single": single, "whole": whole, "instance_a": instance_a}


def test_chaining_a_range_and_one_more_session_equals_one_range_run(walk_forward):
    chained, whole = _stored(walk_forward["a"], "backtest_results"), _stored(walk_forward["b"], "backtest_results")
    assert chained["date"].to_list() == TRADED
    np.testing.assert_allclose(chained["nav"][-1], whole["nav"][-1], rtol=1e-12)
    np.testing.assert_allclose(chained["nav"].to_numpy(), whole["nav"].to_numpy(), rtol=1e-12)
    # ... and both equal one backtest of the whole window, started flat at the close before it.
    config = BacktestRunConfig(top_k=3, n_drop=2)
    prices = _validated().filter(pl.col("date").is_between(DATES[5], TRADED[-1]))
    single = run_backtest(_predictions(), prices, config.backtest_config())
    np.testing.assert_allclose(whole["nav"].to_numpy(), single.daily["nav"].to_numpy()[1:], rtol=1e-12)
    assert whole["nav"][-1] != pytest.approx(config.initial_capital, rel=1e-3)  # it traded
    # long-short top 3 filled at the open, fully invested; the close drifts the weights a little
    assert 0.8 < whole["gross_exposure"][2:].min() <= whole["gross_exposure"][2:].max() < 1.2


def test_each_session_carries_its_own_metadata(walk_forward):
    stored = _stored(walk_forward["a"], "backtest_results")
    nav = dict(zip((d.isoformat() for d in stored["date"]), stored["nav"]))
    ranged = _by_partition(walk_forward["ranged"], "backtest_results")
    assert sorted(ranged) == [d.isoformat() for d in TRADED[:-1]]
    assert {key: meta["nav"] for key, meta in ranged.items()} == pytest.approx({k: nav[k] for k in ranged})
    assert len({meta["nav"] for meta in ranged.values()}) == len(ranged)  # NAV varies by partition
    assert ranged[TRADED[0].isoformat()]["chained_from"] == f"start (flat at {DATES[5].isoformat()})"
    assert ranged[TRADED[1].isoformat()]["chained_from"] == TRADED[0].isoformat()
    assert ranged[TRADED[5].isoformat()]["model_versions"] == "regression_h1/3"
    assert ranged[TRADED[5].isoformat()]["n_long"] == 3 and ranged[TRADED[5].isoformat()]["n_short"] == 3
    single = _by_partition(walk_forward["single"], "backtest_results")
    assert single[TRADED[-1].isoformat()]["chained_from"] == TRADED[-2].isoformat()
    assert single[TRADED[-1].isoformat()]["nav"] == pytest.approx(nav[TRADED[-1].isoformat()])
    state = _by_partition(walk_forward["single"], "backtest_state")[TRADED[-1].isoformat()]
    assert state["names_held"] == 6 and "SYN" in state["largest_positions"]


def test_every_stored_column_is_described(walk_forward):
    for asset in ("backtest_results", "backtest_state"):
        frame = _stored(walk_forward["a"], asset)
        assert [c for c in frame.columns if not column_description(c)] == []
    summary = pl.read_parquet(walk_forward["a"] / "backtest_summary.parquet")
    assert [c for c in summary.columns if not column_description(c)] == []


def test_summary_reads_the_whole_walk_forward(walk_forward):
    meta = _by_partition(walk_forward["single"], "backtest_summary")[None]
    for key in ("sharpe", "sortino", "calmar", "max_drawdown", "var_95", "cvar_95", "deflated_sharpe",
                "sharpe_ci_low", "sharpe_ci_high", "max_drawdown_ci_low", "alpha", "beta", "sweep_pbo"):
        assert isinstance(meta[key], float), key
    assert meta["n_sessions"] == len(TRADED)
    assert (meta["first_session"], meta["last_session"]) == (TRADED[0].isoformat(), TRADED[-1].isoformat())
    assert meta["sharpe"] > 1.0 and meta["sharpe_ci_low"] < meta["sharpe"] < meta["sharpe_ci_high"]
    assert meta["max_drawdown"] <= 0.0 and meta["cvar_95"] <= meta["var_95"]
    sweep = [meta[f"sharpe_at_{c}bps"] for c in (0, 5, 10, 25)]
    assert sweep == sorted(sweep, reverse=True) and sweep[0] > sweep[-1]
    assert meta["sharpe_at_10bps"] == pytest.approx(meta["sharpe"], rel=1e-9)
    assert meta["single_run_return_gap"] < 1e-12  # the sweep re-runs exactly what was stored
    assert "| 25 |" in meta["cost_sweep"] and "Walk-forward" in meta["summary"]
    assert json.loads(json.dumps(meta["config"]))["top_k"] == 3
    stored = pl.read_parquet(walk_forward["a"] / "backtest_summary.parquet")
    assert dict(zip(stored["metric"], stored["value"]))["sharpe"] == pytest.approx(meta["sharpe"])


def test_summary_charts_are_embedded_and_saved_beside_the_data(walk_forward):
    meta = _by_partition(walk_forward["single"], "backtest_summary")[None]
    for name in ("equity_curve", "drawdown", "monthly_returns", "quantile_returns"):
        assert meta[name].startswith(f"![{name}](data:image/png;base64,")
        path = walk_forward["a"] / "backtest_summary" / f"{name}.png"
        assert meta[f"{name}_path"] == str(path)
        assert path.read_bytes().startswith(PNG)


def test_a_changed_config_cannot_continue_the_walk_forward(walk_forward):
    step = {"backtest_step": {"config": {"top_k": 3, "n_drop": 2, "cost_bps": 5.0}}}
    with pytest.raises(dg.Failure, match="one walk-forward has one configuration"):
        _materialize(walk_forward["a"], walk_forward["instance_a"], TRADED[-1], TRADED[-1], step=step)


def test_a_prediction_from_a_model_trained_after_its_session_fails(tmp_path):
    late = _predictions().with_columns(
        model_train_end=pl.when(pl.col("date") == TRADED[3]).then(pl.col("date") + pl.duration(days=1))
        .otherwise(pl.col("model_train_end")))
    _write_store(tmp_path, late)
    with dg.instance_for_test() as instance, pytest.raises(dg.Failure, match=(
            rf"trained after the session they predict .* e\.g\. {TRADED[3]} .*look-ahead")):
        _materialize(tmp_path, instance, TRADED[0], TRADED[5])
    assert not (tmp_path / "backtest_results").exists()


@pytest.mark.parametrize("stored, message", [
    (set(), "no backtest_results session is stored"),
    ({"2024-01-02", "2024-01-03", "2024-01-05"}, "not for 1 session.*2024-01-04"),
    ({"2024-01-02"}, "needs at least 2"),
])
def test_the_summary_refuses_a_walk_forward_it_cannot_read_whole(stored, message):
    with pytest.raises(dg.Failure, match=message):
        stored_sessions(stored)


def test_the_summary_refuses_sessions_that_do_not_chain():
    daily = pl.DataFrame({"date": DATES[:3], "nav": [100.0, 101.0, 99.0], "return": [0.0, 0.01, 0.01]})
    with pytest.raises(dg.Failure, match=f"backtest_results of {DATES[2]} does not continue {DATES[1]}"):
        check_chain(daily)
