"""Backtest assets: the champion's predictions traded session by session, and the whole walk-forward.

``backtest_results`` (one row per session: NAV, return, benchmark, exposure,
turnover, costs) and ``backtest_state`` (the book per symbol at each close)
come from one step that continues the previous session's stored book
(:class:`~market_assets.quant.backtest.BacktestState`): a nightly run of one
session and a backfill over a range give the NAV path of one backtest over
the whole window.  ``backtest_summary`` reads every stored session: metrics,
a cost sweep, factor quantile returns and charts.

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

import base64
import datetime as dt
import io
import json
from dataclasses import dataclass
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
from market_assets.quant.backtest import metrics as mx

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

    def backtest_config(self, cost_bps: float | None = None) -> BacktestConfig:
        """The pure layer's :class:`~market_assets.quant.backtest.BacktestConfig` (``cost_bps`` overrides)."""
        strategy = LongFlat() if self.strategy == "long_flat" else TopKDropout(
            k=self.top_k, n_drop=self.n_drop, long_short=self.strategy == "long_short_top_k")
        costs = CostModel(commission_bps=self.cost_bps if cost_bps is None else cost_bps,
                          borrow_bps_per_year=self.borrow_bps_per_year)
        execution = ExecutionConfig(fill="open" if self.execution == "next_open" else "close",
                                    initial_capital=self.initial_capital, costs=costs)
        return BacktestConfig(strategy=strategy, execution=execution, horizon=self.horizon)

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
    report = walk_forward_report(daily, predictions, prices, run_config, config)
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


# ---- the whole walk-forward, from stored sessions (pure: no Dagster below, until the definitions) ----------


@dataclass(frozen=True)
class WalkForwardReport:
    """What the summary shows: metrics, the cost sweep, quantile returns and a written summary."""

    metrics: dict[str, float]  #: walk-forward metrics, sweep and factor statistics (floats, NaN if undefined)
    sweep: pl.DataFrame  #: cost_bps, sharpe, sortino, total_return, annual_return, max_drawdown (empty if skipped)
    quantile_returns: pl.DataFrame  #: factor.py's pooled quantile returns at the traded horizon
    markdown: str  #: the summary a person reads first


def walk_forward_report(
    daily: pl.DataFrame, predictions: pl.DataFrame, prices: pl.DataFrame, run: BacktestRunConfig,
    summary: BacktestSummaryConfig,
) -> WalkForwardReport:
    """Metrics of the stored sessions, the cost sweep and quantile returns over the same window.

    ``prices`` runs from the session before the first stored one (the walk-forward's starting close)
    to ``run.horizon`` sessions after the last (forward returns of the factor analysis).
    """
    last = daily["date"].max()
    metrics = walk_forward_metrics(daily, n_resamples=summary.n_resamples)
    sweep, swept = cost_sweep(predictions, prices.filter(pl.col("date") <= last), run, summary.sweep_cost_bps,
                              daily["return"].to_numpy())
    quantiles, factor = quantile_returns(predictions, prices, run.horizon, summary.quantiles)
    metrics |= swept | factor
    return WalkForwardReport(metrics, sweep, quantiles, _summary_markdown(daily, metrics, sweep, run))


def walk_forward_metrics(daily: pl.DataFrame, *, n_resamples: int = 1000, random_state: int = 0) -> dict[str, float]:
    """Metrics of the stored session returns (conventions of :mod:`market_assets.quant.backtest.metrics`).

    Every stored session counts, the walk-forward's first (flat, return 0) included, as in a single
    backtest started at the previous close.  ``deflated_sharpe`` is the probabilistic Sharpe ratio
    against 0 (one configuration); ``*_ci_*`` are 95% circular block-bootstrap intervals; alpha and
    beta are against ``benchmark_return``; ``cost_drag`` sums commission, slippage and borrow.
    """
    from market_assets.quant.backtest.bootstrap import bootstrap_intervals
    from market_assets.quant.backtest.overfitting import deflated_sharpe_ratio, detect_impossible_sharpe

    r, b = daily["return"].to_numpy(), daily["benchmark_return"].to_numpy()
    drawdown, duration = mx.drawdown_statistics(r)
    var, cvar = mx.tail_risk(r, 0.95)
    alpha, beta = mx.alpha_beta(r, b)
    out = {
        "total_return": mx.total_return(r), "annual_return": mx.annual_return(r),
        "annual_volatility": mx.annual_volatility(r), "sharpe": mx.sharpe_ratio(r), "sortino": mx.sortino_ratio(r),
        "calmar": mx.calmar_ratio(r), "max_drawdown": drawdown, "max_drawdown_duration": duration,
        "var_95": var, "cvar_95": cvar, "win_rate": mx.win_rate(r), "profit_factor": mx.profit_factor(r),
        "alpha": alpha, "beta": beta, "deflated_sharpe": deflated_sharpe_ratio(r),
        "benchmark_total_return": mx.total_return(b), "benchmark_sharpe": mx.sharpe_ratio(b),
        "mean_turnover": daily["turnover"].mean(), "mean_gross_exposure": daily["gross_exposure"].mean(),
        "cost_drag": (daily["costs"] + daily["borrow"]).sum(),
    }
    for name, interval in bootstrap_intervals(r, n_resamples=n_resamples, random_state=random_state).items():
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = interval.low, interval.high
    if len(r) >= 60:
        out["impossible_sharpe"] = float(detect_impossible_sharpe(r).impossible)
    return {name: float(value) for name, value in out.items()}


def cost_sweep(
    predictions: pl.DataFrame, prices: pl.DataFrame, run: BacktestRunConfig, levels_bps: list[float],
    stored_returns: np.ndarray,
) -> tuple[pl.DataFrame, dict[str, float]]:
    """The walk-forward re-run in one backtest per cost level (:func:`.sweep.run_sweep`), PBO included.

    Skipped (empty frame) with fewer than two levels or four sessions (CSCV needs two blocks of two).
    ``single_run_return_gap`` is the largest difference between the stored session returns and the
    re-run at the stored cost: 0 up to rounding unless predictions or prices changed since.
    """
    from market_assets.quant.backtest.sweep import run_sweep

    levels = sorted(set(levels_bps))
    n_blocks = min(16, len(stored_returns) // 4 * 2)
    if len(levels) < 2 or n_blocks < 2:
        return pl.DataFrame(schema={"cost_bps": pl.Float64, "sharpe": pl.Float64}), {}
    result = run_sweep(predictions, prices, [run.backtest_config(c) for c in levels], n_blocks=n_blocks)
    r = result.returns
    sweep = pl.DataFrame({"cost_bps": levels, "sharpe": result.sharpes, "sortino": mx.sortino_ratio(r),
                          "total_return": mx.total_return(r), "annual_return": mx.annual_return(r),
                          "max_drawdown": mx.max_drawdown(r)})
    out = {f"sharpe_at_{c:g}bps": float(s) for c, s in zip(levels, result.sharpes)}
    out |= {"sweep_pbo": result.overfitting.pbo, "sweep_deflated_sharpe": result.deflated_sharpe}
    if run.cost_bps in levels and r.shape[0] == len(stored_returns):
        out["single_run_return_gap"] = float(np.max(np.abs(r[:, levels.index(run.cost_bps)] - stored_returns)))
    return sweep, out


def quantile_returns(
    predictions: pl.DataFrame, prices: pl.DataFrame, horizon: int, quantiles: int
) -> tuple[pl.DataFrame, dict[str, float]]:
    """:func:`.factor.factor_tear_sheet` of the predictions at ``horizon``: quantile returns, spread, rank IC."""
    from market_assets.quant.backtest.factor import factor_tear_sheet

    factor = predictions.filter(pl.col("horizon") == horizon).select("date", "symbol", "prediction")
    q = max(2, min(quantiles, factor["symbol"].n_unique()))
    sheet = factor_tear_sheet(factor, prices, column="prediction", quantiles=q, quantile_horizons=(horizon,),
                              horizons=(horizon,))
    pooled, decay = sheet.quantile_returns, sheet.ic_decay
    per_session = pooled["mean_return_per_session"]
    out = {"quantile_spread_per_session": float(per_session[-1] - per_session[0]) if pooled.height else float("nan")}
    if decay.height:
        out |= {"mean_rank_ic": float(decay["mean_rank_ic"][0]), "rank_icir": float(decay["rank_icir"][0])}
    return pooled, out


def _summary_markdown(daily: pl.DataFrame, m: dict[str, float], sweep: pl.DataFrame, run: BacktestRunConfig) -> str:
    strategy = run.strategy if run.strategy == "long_flat" else f"{run.strategy} (k={run.top_k}, n_drop={run.n_drop})"
    lines = [
        f"**Walk-forward {daily['date'][0]} … {daily['date'][-1]}** ({daily.height} sessions): {strategy}, "
        f"{run.cost_bps:g} bps costs, fills at the {run.execution.replace('_', ' ')}, horizon {run.horizon}.",
        "",
        "| | strategy | benchmark (equal weight) |", "|---|---|---|",
        f"| total return | {m['total_return']:.2%} | {m['benchmark_total_return']:.2%} |",
        f"| Sharpe (95% CI) | {m['sharpe']:.2f} [{m['sharpe_ci_low']:.2f}, {m['sharpe_ci_high']:.2f}] | "
        f"{m['benchmark_sharpe']:.2f} |",
        f"| Sortino / Calmar | {m['sortino']:.2f} / {m['calmar']:.2f} | |",
        f"| max drawdown | {m['max_drawdown']:.2%} ({m['max_drawdown_duration']:.0f} sessions) | |",
        f"| VaR / CVaR 95% (session) | {m['var_95']:.2%} / {m['cvar_95']:.2%} | |",
        f"| alpha / beta | {m['alpha']:.2%} / {m['beta']:.2f} | |",
        f"| deflated Sharpe (P[SR > 0]) | {m['deflated_sharpe']:.2f} | |",
        f"| mean turnover / cost drag | {m['mean_turnover']:.2f} / {m['cost_drag']:.2%} | |",
    ]
    if sweep.height:
        lines += ["", f"Cost sweep: Sharpe {sweep['sharpe'][0]:.2f} at {sweep['cost_bps'][0]:g} bps to "
                  f"{sweep['sharpe'][-1]:.2f} at {sweep['cost_bps'][-1]:g} bps; PBO {m['sweep_pbo']:.2f}, "
                  f"deflated Sharpe of the best {m['sweep_deflated_sharpe']:.2f}."]
    if "mean_rank_ic" in m:
        lines += ["", f"Predictions: top minus bottom quantile {m['quantile_spread_per_session'] * 1e4:.1f} bps a "
                  f"session, mean rank IC {m['mean_rank_ic']:.3f} (ICIR {m['rank_icir']:.2f})."]
    return "\n".join(lines)


def render_charts(daily: pl.DataFrame, report: WalkForwardReport, initial_capital: float) -> dict[str, bytes]:
    """PNG bytes of the equity curve, drawdown, monthly returns and quantile returns (Agg canvas, no pyplot)."""
    dates, r = daily["date"].to_list(), daily["return"].to_numpy()
    fig, ax = _figure(dates=True)
    ax.plot(dates, daily["nav"].to_numpy() / initial_capital, label="strategy", color="#4c72b0")
    ax.plot(dates, np.cumprod(1.0 + daily["benchmark_return"].to_numpy()), label="benchmark (equal weight)",
            color="#999999")
    ax.set(title="Equity curve (growth of 1)", ylabel="NAV / initial capital")
    ax.legend(loc="upper left")
    charts = {"equity_curve": _png(fig)}
    fig, ax = _figure(dates=True)
    dd = mx.drawdowns(r)
    ax.fill_between(dates, dd, 0.0, color="#c44e52", alpha=0.6)
    ax.set(title=f"Drawdown (max {dd.min():.1%})", ylabel="NAV / running peak - 1")
    charts["drawdown"] = _png(fig)
    charts["monthly_returns"] = _monthly_chart(daily)
    charts["quantile_returns"] = _quantile_chart(report.quantile_returns)
    return charts


def _monthly_chart(daily: pl.DataFrame) -> bytes:
    monthly = daily.group_by(year=pl.col("date").dt.year(), month=pl.col("date").dt.month()).agg(
        ret=(1.0 + pl.col("return")).product() - 1.0)
    years = sorted(monthly["year"].unique().to_list())
    grid = np.full((len(years), 12), np.nan)
    for year, month, ret in monthly.iter_rows():
        grid[years.index(year), month - 1] = ret
    fig, ax = _figure(height=0.5 * len(years) + 1.6)
    limit = float(np.nanmax(np.abs(grid))) or 1e-9
    ax.imshow(grid, cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.1%}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(12), ["J", "F", "M", "A", "M", "J", "J", "A", "S", "O", "N", "D"])
    ax.set_yticks(range(len(years)), [str(y) for y in years])
    ax.set_title("Monthly returns")
    return _png(fig)


def _quantile_chart(pooled: pl.DataFrame) -> bytes:
    fig, ax = _figure()
    if pooled.height:
        ax.bar(pooled["quantile"].to_numpy(), pooled["mean_return"].to_numpy() * 1e4,
               yerr=pooled["std_error"].fill_null(0.0).to_numpy() * 1e4, color="#55a868", capsize=3)
        ax.set_xticks(pooled["quantile"].to_list())
    ax.axhline(0.0, color="black", linewidth=0.8)
    horizon = pooled["horizon"][0] if pooled.height else "?"
    ax.set(title=f"Mean {horizon}-session forward return by prediction quantile (demeaned)",
           xlabel="quantile (1 = lowest prediction)", ylabel="bps")
    return _png(fig)


def _figure(width: float = 8.0, height: float = 3.2, *, dates: bool = False):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    figure = Figure(figsize=(width, height), dpi=90)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if dates:
        locator = AutoDateLocator()
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    return figure, axes


def _png(figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def chart_markdown(name: str, png: bytes) -> str:
    """The PNG embedded as a base64 data URI, which the Dagster UI's markdown renders."""
    return f"![{name}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


BACKTEST_ASSETS = [backtest_step, backtest_summary]

backtest_job = dg.define_asset_job(
    name="backtest_job",
    selection=dg.AssetSelection.assets(STATE, RESULTS, "backtest_summary"),
    partitions_def=SESSIONS,
    description="Trade the selected sessions' predictions (chaining from the stored book), then summarise "
                "the whole stored walk-forward.",
)

BACKTEST_JOBS = [backtest_job]
