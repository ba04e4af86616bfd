"""Backtest assets: the champion's predictions traded session by session, and the whole walk-forward.

``backtest_results`` (one row per session: NAV, return, benchmark, exposure,
turnover, costs) and ``backtest_state`` (the book per symbol at each close)
come from one step that continues the previous session's stored book
(:class:`~market_assets.quant.backtest.BacktestState`): a nightly run of one
session and a backfill over a range give the NAV path of one backtest over
the whole window.  ``backtest_summary`` reads every stored session and
attaches what :mod:`market_assets.quant.backtest.report` computes from them:
metrics, a cost sweep, factor quantile returns and charts.

Conventions
-----------
* Point in time: the predictions of session ``t`` come from a model trained
  before it (``model_train_end <= date``, refused otherwise); targets decided
  at t's close fill at session t+1 (its open by default).
* A walk-forward **starts** at the first session with no stored state before
  it: flat with ``initial_capital`` at the previous session's close (whose
  validated prices must exist); that session earns nothing, its predictions
  trade at the next one.  A missing state after an earlier stored one is a
  gap, and fails.
* ``benchmark_return`` is each session's equal-weight return of the universe
  from the previous close (the pure layer's buy and hold over one session,
  i.e. rebalanced every session, which is what chains).
* Each symbol is valued at its last bar valid for the fill; the stored state
  keeps that close (``valuation_close``, the pure layer's state), so a
  symbol without a bar on the previous close keeps its move.
"""

import datetime as dt
import json
from typing import Literal

import dagster as dg
import numpy as np
import polars as pl
from pydantic import Field

from market_assets.defs.assets.daily import session_window
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.metadata import add_partition_metadata, markdown_table
from market_assets.defs.partitions import SESSIONS, partition_dates
from market_assets.quant.backtest import (
    BacktestConfig, BacktestState, CostModel, ExecutionConfig, LongFlat, TopKDropout, run_backtest,
)
from market_assets.quant.backtest.report import chart_markdown, render_charts, walk_forward_report

RESULTS, STATE = dg.AssetKey("backtest_results"), dg.AssetKey("backtest_state")
PREDICTIONS, PRICES = dg.AssetKey("predictions"), dg.AssetKey("validated_prices")
_PRICE_COLUMNS = ("date", "symbol", "open", "close", "adj_close", "volume")

#: Session t's book continues the one stored at the previous session's close.
PREVIOUS_SESSION = dg.TimeWindowPartitionMapping(
    start_offset=-1, end_offset=-1, allow_nonexistent_upstream_partitions=True
)


class BacktestRunConfig(dg.Config):
    """How the walk-forward trades: strategy, costs, execution, horizon."""

    strategy: Literal["long_short_top_k", "long_top_k", "long_flat"] = Field(
        default="long_short_top_k",
        description="long_short_top_k: long the top_k and short the bottom top_k predictions (Qlib's "
        "TopkDropout per side); long_top_k: the long side only; long_flat: long every prediction > 0.",
    )
    top_k: int = Field(default=10, ge=1, description="Names per side of the top-k strategies.")
    n_drop: int = Field(default=2, ge=0, description="Most names replaced per side and session (top-k).")
    cost_bps: float = Field(default=10.0, ge=0, description="Commission plus slippage, basis points of traded value.")
    borrow_bps_per_year: float = Field(default=0.0, ge=0, description="Borrow fee on the short book, bps a year.")
    execution: Literal["next_open", "next_close"] = Field(
        default="next_open", description="Where a session's targets fill: the next session's open or close."
    )
    horizon: int = Field(default=1, ge=1, description="Prediction horizon (sessions) traded as the signal.")
    initial_capital: float = Field(default=1_000_000.0, gt=0, description="NAV at the walk-forward's start.")

    def backtest_config(self) -> BacktestConfig:
        """The pure layer's :class:`~market_assets.quant.backtest.BacktestConfig`."""
        strategy = LongFlat() if self.strategy == "long_flat" else TopKDropout(
            k=self.top_k, n_drop=self.n_drop, long_short=self.strategy == "long_short_top_k")
        costs = CostModel(commission_bps=self.cost_bps, borrow_bps_per_year=self.borrow_bps_per_year)
        execution = ExecutionConfig(fill="open" if self.execution == "next_open" else "close",
                                    initial_capital=self.initial_capital, costs=costs)
        return BacktestConfig(strategy=strategy, execution=execution, horizon=self.horizon)

    def description(self) -> str:
        """How the walk-forward trades, in words (the summary's first line)."""
        strategy = self.strategy if self.strategy == "long_flat" else (
            f"{self.strategy} (k={self.top_k}, n_drop={self.n_drop})")
        return (f"{strategy}, {self.cost_bps:g} bps costs, fills at the {self.execution.replace('_', ' ')}, "
                f"horizon {self.horizon}")

    def fingerprint(self) -> str:
        """The configuration as canonical JSON, stored with every row to keep one walk-forward one config."""
        return json.dumps(self.model_dump(), sort_keys=True)


@dg.multi_asset(
    outs={
        "backtest_state": dg.AssetOut(
            io_manager_key="parquet_io_manager", kinds={"polars", "parquet"},
            description="The backtest book at each session's close, per symbol: positions, the targets for "
            "the next session, valuation closes; the next session continues from it.",
        ),
        "backtest_results": dg.AssetOut(
            io_manager_key="parquet_io_manager", kinds={"polars", "parquet"},
            description="One row per session of the walk-forward backtest: NAV, return, equal-weight "
            "benchmark, exposure, turnover and costs.",
        ),
    },
    ins={"predictions": dg.AssetIn(), "validated_prices": session_window(1)},
    deps=[dg.AssetDep("backtest_state", partition_mapping=PREVIOUS_SESSION)],
    partitions_def=SESSIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="backtests",
)
def backtest_step(
    context: dg.AssetExecutionContext,
    config: BacktestRunConfig,
    predictions: pl.DataFrame,
    validated_prices: pl.DataFrame,
    parquet_io_manager: dg.ResourceParam[PartitionedParquetIOManager],
):
    """Trades each session's predictions from the previous session's stored book; a range chains session by session."""
    sessions = partition_dates(context.partition_keys)
    refuse_look_ahead(predictions)
    fingerprint = config.fingerprint()
    state, origin = _starting_book(context, parquet_io_manager, sessions, fingerprint)
    prices = validated_prices.select(_PRICE_COLUMNS)
    chained_from, rows, books = {}, [], []
    for session in sessions:
        chained_from[session.isoformat()] = origin
        state, row = trade_session(session, predictions.filter(pl.col("date") == session), prices, config, state)
        rows.append(row.with_columns(config=pl.lit(fingerprint)))
        books.append(state.to_frame().with_columns(config=pl.lit(fingerprint)))
        origin = session.isoformat()
    results, book = pl.concat(rows), pl.concat(books)
    context.log.info(f"{len(sessions)} session(s) {sessions[0]} … {sessions[-1]}: NAV "
                     f"{results['nav'][0]:,.2f} → {results['nav'][-1]:,.2f}")
    add_partition_metadata(context, book, _describe_book, asset_key=STATE)
    yield dg.Output(book, output_name="backtest_state")
    add_partition_metadata(context, results, lambda key, r: _describe_session(r, predictions, chained_from[key]),
                           asset_key=RESULTS)
    yield dg.Output(results, output_name="backtest_results")


def refuse_look_ahead(predictions: pl.DataFrame) -> None:
    """Fail when a prediction comes from a model trained after (or without a cut-off before) its session."""
    late = predictions.filter(pl.col("model_train_end").is_null() | (pl.col("model_train_end") > pl.col("date")))
    if late.height:
        first = late.sort("date", "symbol").row(0, named=True)
        raise dg.Failure(
            f"{late.height} prediction row(s) come from a model trained after the session they predict (or "
            f"with no model_train_end), e.g. "
            f"{first['date']} {first['symbol']} by {first['model_version']} with model_train_end "
            f"{first['model_train_end']}: trading them would be look-ahead. Expected model_train_end <= date "
            "on every row; re-materialize predictions for these sessions (each is served by a champion "
            "trained before it)."
        )


def _starting_book(
    context: dg.AssetExecutionContext, store: PartitionedParquetIOManager, sessions: list[dt.date], fingerprint: str
) -> tuple[BacktestState | None, str]:
    """The stored book at the close before the run, or None when the run starts the walk-forward."""
    first, last = sessions[0].isoformat(), sessions[-1].isoformat()
    previous = previous_session(first)
    if previous is None:
        raise dg.Failure(f"{first} is the first session partition: a walk-forward starts flat at the close "
                         "of the session before its first one; start at a later session")
    stored = context.instance.get_materialized_partitions(STATE)
    if later := sorted(k for k in stored if k > last):
        context.log.warning(f"backtest_state is stored after this run ({later[0]} … {later[-1]}): those sessions "
                            f"continue the earlier book; re-materialize them after {last} if this run changed it")
    if previous in stored:
        frame, _ = store.read_partitions(STATE, [previous])
        if frame["config"][0] != fingerprint:
            raise dg.Failure(
                f"the book stored at {previous} was computed with config {frame['config'][0]}, this run has "
                f"{fingerprint}: one walk-forward has one configuration. Run with the stored config, or "
                "re-materialize backtest_results over the whole walk-forward with the new one."
            )
        return BacktestState.from_frame(frame), previous
    if earlier := sorted(k for k in stored if k < first):
        raise dg.Failure(
            f"backtest_state is stored up to {earlier[-1]} but not for {previous}, the session before {first}: "
            f"the walk-forward would have a gap. Materialize backtest_results from "
            f"{next_session(earlier[-1])} through {last} in one range run."
        )
    context.log.info(f"{first} starts the walk-forward: flat at the close of {previous}")
    return None, f"start (flat at {previous})"


def trade_session(
    session: dt.date, predictions: pl.DataFrame, prices: pl.DataFrame, config: BacktestRunConfig,
    state: BacktestState | None,
) -> tuple[BacktestState, pl.DataFrame]:
    """One session from the book at the previous close: the new state and the daily row."""
    bt = config.backtest_config()
    window = _session_prices(session, prices, state)
    if predictions.filter(pl.col("horizon") == config.horizon).is_empty():
        held = sorted(predictions["horizon"].unique().to_list())
        raise dg.Failure(f"predictions of {session} hold horizon(s) {held}, none of config horizon={config.horizon}; "
                         "set horizon to a predicted one or materialize predictions for it")
    try:
        result = run_backtest(predictions, window, bt, state=state)
    except ValueError as error:
        raise dg.Failure(f"backtest of session {session} failed: {error}") from error
    new = result.state
    row = result.daily.filter(pl.col("date") == session).with_columns(
        n_long=pl.lit(int((new.engine.positions > 0).sum())), n_short=pl.lit(int((new.engine.positions < 0).sum())))
    return new, row


def _session_prices(session: dt.date, prices: pl.DataFrame, state: BacktestState | None) -> pl.DataFrame:
    """Prices from the anchor (the previous close) to ``session``.

    Names without a bar on the anchor are valued at the state's ``valuation_close`` by the pure layer.
    """
    if state is not None:
        return prices.filter(pl.col("date").is_between(state.date, session))
    previous = dt.date.fromisoformat(previous_session(session.isoformat()))
    window = prices.filter(pl.col("date").is_between(previous, session))
    if window.filter(pl.col("date") == previous).is_empty():
        raise dg.Failure(f"{session} starts the walk-forward: the book starts flat at the close of {previous}, "
                         f"but validated_prices has no rows for {previous}; materialize it first")
    return window


def previous_session(key: str) -> str | None:
    """The session partition before ``key`` (None before the first)."""
    window = SESSIONS.get_prev_partition_window(SESSIONS.time_window_for_partition_key(key).start)
    return None if window is None else window.start.date().isoformat()


def next_session(key: str) -> str | None:
    """The session partition after ``key``."""
    return SESSIONS.get_next_partition_key(key)


def _describe_session(row: pl.DataFrame, predictions: pl.DataFrame, chained_from: str) -> dict[str, object]:
    """One session's own numbers (numeric keys plot over partitions in the UI)."""
    r = row.row(0, named=True)
    served = predictions.filter(pl.col("date") == r["date"])
    floats = ("nav", "return", "benchmark_return", "gross_exposure", "net_exposure", "turnover", "costs", "borrow")
    return {
        **{name: dg.MetadataValue.float(float(r[name])) for name in floats},
        "n_long": dg.MetadataValue.int(r["n_long"]),
        "n_short": dg.MetadataValue.int(r["n_short"]),
        "chained_from": chained_from,
        "model_versions": ", ".join(sorted(served["model_version"].unique().to_list())) or "—",
    }


def _describe_book(key: str, book: pl.DataFrame) -> dict[str, object]:
    """The book at one close: names held and the largest positions."""
    held = book.with_columns(weight=pl.col("positions") / pl.col("nav")).filter(
        (pl.col("positions") != 0) | (pl.col("targets") != 0))
    top = held.sort(pl.col("weight").abs(), descending=True).select("symbol", "weight", "targets")
    return {"nav": dg.MetadataValue.float(float(book["nav"][0])),
            "names_held": dg.MetadataValue.int(int((book["positions"] != 0).sum())),
            "largest_positions": markdown_table(top.to_dicts(), limit=10)}


class BacktestSummaryConfig(dg.Config):
    """What the whole-walk-forward summary adds to the stored sessions."""

    sweep_cost_bps: list[float] = Field(
        default=[0.0, 5.0, 10.0, 25.0], description="Cost levels (commission + slippage, bps) of the cost sweep."
    )
    n_resamples: int = Field(default=1000, ge=10, description="Block-bootstrap resamples of the Sharpe and drawdown intervals.")
    quantiles: int = Field(default=5, ge=2, description="Prediction quantiles of the factor analysis.")


@dg.asset(
    group_name="backtests",
    io_manager_key="parquet_io_manager",
    kinds={"polars", "matplotlib"},
    deps=["backtest_results", "predictions", "validated_prices"],
)
def backtest_summary(
    context: dg.AssetExecutionContext,
    config: BacktestSummaryConfig,
    parquet_io_manager: dg.ResourceParam[PartitionedParquetIOManager],
) -> dg.Output:
    """The whole stored walk-forward: risk-adjusted metrics, a cost sweep, quantile returns and charts."""
    keys = stored_sessions(context.instance.get_materialized_partitions(RESULTS))
    daily = parquet_io_manager.read_partitions(RESULTS, keys)[0].sort("date")
    run_config = _one_config(daily)
    check_chain(daily)
    predictions = parquet_io_manager.read_partitions(PREDICTIONS, keys)[0]
    ahead = _sessions_after(keys[-1], run_config.horizon)
    prices = parquet_io_manager.read_partitions(PRICES, [previous_session(keys[0]), *keys, *ahead],
                                                optional=ahead)[0].select(_PRICE_COLUMNS)
    report = walk_forward_report(daily, predictions, prices, run_config.backtest_config(),
                                 sweep_cost_bps=config.sweep_cost_bps, n_resamples=config.n_resamples,
                                 quantiles=config.quantiles, description=run_config.description())
    charts = render_charts(daily, report, run_config.initial_capital)
    paths = save_charts(parquet_io_manager.root, charts)
    context.log.info(f"walk-forward {keys[0]} … {keys[-1]} ({len(keys)} sessions): Sharpe "
                     f"{report.metrics['sharpe']:.2f}; charts in {paths['equity_curve'].rsplit('/', 1)[0]}")
    metadata = {
        **{name: dg.MetadataValue.float(value) for name, value in report.metrics.items()},
        "first_session": keys[0], "last_session": keys[-1], "n_sessions": dg.MetadataValue.int(len(keys)),
        "config": dg.MetadataValue.json(json.loads(run_config.fingerprint())),
        "summary": dg.MetadataValue.md(report.markdown),
        "cost_sweep": markdown_table(report.sweep.to_dicts(), limit=20),
        **{name: dg.MetadataValue.md(chart_markdown(name, png)) for name, png in charts.items()},
        **{f"{name}_path": dg.MetadataValue.path(path) for name, path in paths.items()},
    }
    table = pl.DataFrame({"metric": list(report.metrics), "value": list(report.metrics.values())},
                         schema={"metric": pl.String, "value": pl.Float64})
    return dg.Output(table, metadata=metadata)


def stored_sessions(stored: set[str]) -> list[str]:
    """The stored sessions of the walk-forward, sorted; fail when none is stored or a session is missing."""
    if not stored:
        raise dg.Failure("no backtest_results session is stored: materialize backtest_results first")
    keys = sorted(stored)
    expected = SESSIONS.get_partition_keys_in_range(dg.PartitionKeyRange(keys[0], keys[-1]))
    holes = sorted(set(expected) - stored)
    if holes:
        raise dg.Failure(f"backtest_results is stored from {keys[0]} to {keys[-1]} but not for {len(holes)} "
                         f"session(s) in between ({', '.join(holes[:5])}{' …' if len(holes) > 5 else ''}): "
                         f"materialize backtest_results from {holes[0]} through {keys[-1]} in one range run")
    if len(keys) < 2:
        raise dg.Failure(f"one stored session ({keys[0]}): a walk-forward summary needs at least 2")
    return keys


def _one_config(daily: pl.DataFrame) -> BacktestRunConfig:
    configs = daily["config"].unique(maintain_order=True).to_list()
    if len(configs) > 1:
        raise dg.Failure(f"the stored sessions were computed with {len(configs)} configurations ({configs}): "
                         "re-materialize backtest_results over the whole walk-forward with one config")
    return BacktestRunConfig(**json.loads(configs[0]))


def check_chain(daily: pl.DataFrame, rtol: float = 1e-9) -> None:
    """Fail unless every stored session continues the previous one: ``nav_t = nav_{t-1} (1 + return_t)``."""
    nav, ret = daily["nav"].to_numpy(), daily["return"].to_numpy()
    broken = np.flatnonzero(~np.isclose(nav[1:], nav[:-1] * (1.0 + ret[1:]), rtol=rtol, atol=0.0))
    if broken.size:
        i = int(broken[0]) + 1
        date, last = daily["date"][i], daily["date"][-1]
        raise dg.Failure(
            f"backtest_results of {date} does not continue {daily['date'][i - 1]}: NAV {nav[i]:,.6f} != "
            f"{nav[i - 1]:,.6f} x (1 + {ret[i]:.6g}); a session was re-materialized without the ones after it. "
            f"Re-materialize backtest_results from {date} through {last} in one range run."
        )


def _sessions_after(key: str, n: int) -> list[str]:
    out: list[str] = []
    while len(out) < n and (key := next_session(key)) is not None:
        out.append(key)
    return out


def save_charts(root: str, charts: dict[str, bytes]) -> dict[str, str]:
    """Write each PNG to ``{root}/backtest_summary/{name}.png`` (beside the summary's data); return the paths."""
    from upath import UPath

    directory = UPath(root) / "backtest_summary"
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, png in charts.items():
        path = directory / f"{name}.png"
        path.write_bytes(png)
        paths[name] = str(path)
    return paths


BACKTEST_ASSETS = [backtest_step, backtest_summary]

backtest_job = dg.define_asset_job(
    name="backtest_job",
    selection=dg.AssetSelection.assets(STATE, RESULTS, "backtest_summary"),
    partitions_def=SESSIONS,
    description="Trade the selected sessions' predictions (chaining from the stored book), then summarise "
                "the whole stored walk-forward.",
)

BACKTEST_JOBS = [backtest_job]
