"""The nightly increment (one new session through the daily_job) for 500 and 6,000 synthetic symbols.

Run: ``python benchmarks/bench_nightly.py [--symbols 500 6000] [--history-sessions 2520]
[--nightly 2026-06-30] [--repeat 1]``

For each universe size, in a fresh scratch directory (SQLite Dagster instance
in its ``DAGSTER_HOME``, Parquet data root, MLflow on SQLite):

1. **setup, untimed** (a child process): the synthetic market (seed 7, planted
   signal 0.1, no defects) simulated once from ``history-sessions`` sessions
   before the nightly session to its weekend and kept as one Parquet panel;
   ``raw_prices`` and ``validated_prices`` of every history session written in
   the IO manager's layout (so the nightly's feature lookback, ``max_warmup`` =
   2,502 sessions, is full, as on a ten-year deployment); ``market_regimes``,
   ``feature_table`` (quant code, the asset's computation) and ``labels`` of
   the last :data:`FEATURE_SESSIONS` sessions only; then, through Dagster, a
   ridge champion (``trained_model``) for the week about five weeks before
   the nightly session, on a 120-session sliding window (production default:
   expanding; smaller here, so setup stays short; drift's reference is the
   champion's last 120 sessions before its cut-off either way) and its
   ``predictions`` for every session from that week to the evening before.
2. **the nightly, timed** (a second child process): ``daily_job`` for the new
   session as one in-process run (prices, validation, regimes, features,
   predictions, performance, drift with the Evidently HTML report of the
   session), wall time of the run, peak RSS of the process (``ru_maxrss``
   after the run: the imports, the run and nothing of the setup) and each
   step's duration from its STEP_SUCCESS event; then, in the same process,
   the **reference**: the same increment by the functions the assets call
   (source fetch and rebase, ``validate_prices``, ``regime_probabilities_for``,
   ``compute_features``, ``predict_sessions``, ``realized_returns`` /
   ``performance_at``, ``cached_champion_reference`` / ``session_drift`` and
   the HTML report), reading the same Parquet windows, without Dagster.  The
   ratio run / reference is the platform's overhead.  The champion's drift
   reference is cached under the data root (built once per champion): the
   first run builds it (the first evening of a champion), the later runs and
   the reference read it back (every other evening).

The price source of the nightly serves the stored panel (a date-filtered
Parquet scan, like a provider answering for one session): simulating the
market in the nightly process would add the simulator's cost (8 s and
2.3 GiB for 6,000 symbols × 2,684 sessions), which no real provider has.
The in-process executor runs the steps one after another in one process; the
deployment's multiprocess executor adds a process start per step and keeps
each step's memory to its own process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Sessions of features (and regimes, labels) the setup stores before the nightly session:
#: the champion's training window (120) + validation (60) + embargo and purge, its
#: predictions (~25 sessions) and the drift window.
FEATURE_SESSIONS = 240
TRAINING = {"model_name": "ridge", "horizon": 1, "window": 120}
PREDICTION_SESSIONS = 25
SEED, SIGNAL = 7, 0.1


# ---------------------------------------------------------------- environment

def environment(root: Path, first: dt.date) -> dict[str, str]:
    """The scratch deployment's settings (read by market_assets.settings when it is imported)."""
    return {
        **os.environ,
        "DAGSTER_HOME": str(root / "dagster_home"),
        "MARKET_ASSETS_ENV": "local",
        "MARKET_ASSETS_START": first.isoformat(),
        "MARKET_ASSETS_DATA_ROOT": str(root / "data"),
        "MARKET_ASSETS_MLFLOW_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MARKET_ASSETS_MLFLOW_UI_URL": "",
        "MARKET_ASSETS_OPTUNA_URL": f"sqlite:///{root / 'optuna.db'}",
        "MARKET_ASSETS_CACHE_DIR": str(root / "cache"),
        "MARKET_ASSETS_SOURCE": "synthetic",
    }


def history_sessions(nightly: dt.date, count: int) -> list[dt.date]:
    """``count`` XNYS sessions before ``nightly``, then ``nightly``."""
    from market_assets.calendars import sessions_between

    sessions = sessions_between("XNYS", nightly - dt.timedelta(days=count * 7 // 5 + 30), nightly)
    if sessions[-1] != nightly:
        raise SystemExit(f"--nightly {nightly} is not an XNYS session")
    return sessions[-(count + 1):]


# ---------------------------------------------------------------- the nightly's price source

class PanelSource:
    """The stored synthetic panel as a provider: rows of the dates asked for (a filtered Parquet scan)."""

    name = "synthetic"

    def __init__(self, path: str, n_symbols: int) -> None:
        self.path, self.n_symbols = path, n_symbols

    def symbols(self) -> list[str]:
        from market_assets.sources.synthetic import synthetic_symbols

        return synthetic_symbols(self.n_symbols)

    def fetch(self, start: dt.date, end: dt.date):
        import polars as pl

        return pl.scan_parquet(self.path).filter(pl.col("date").is_between(start, end)).collect()


def panel_resource(root: Path, n_symbols: int):
    """A ``price_source`` resource whose ``build()`` is the stored panel."""
    from market_assets.defs.resources import PriceSourceResource

    class PanelPriceSource(PriceSourceResource):
        panel_path: str
        universe: int

        def build(self):
            return PanelSource(self.panel_path, self.universe)

    return PanelPriceSource(panel_path=str(root / "panel.parquet"), universe=n_symbols)


def bench_definitions(root: Path, n_symbols: int):
    """The code location's assets, checks and jobs with the panel as ``price_source``."""
    import dagster as dg

    from market_assets.defs.jobs import JOBS
    from market_assets.definitions import defs

    resources = {**defs.resources, "price_source": panel_resource(root, n_symbols)}
    return dg.Definitions(assets=list(defs.assets), asset_checks=list(defs.asset_checks), jobs=JOBS,
                          resources=resources)


# ---------------------------------------------------------------- setup (untimed)

def _write(root: Path, asset: str, frame, sessions) -> None:
    folder = root / "data" / asset
    folder.mkdir(parents=True, exist_ok=True)
    parts = frame.partition_by("date", as_dict=True)
    for session in sessions:
        part = parts.get((session,), frame.clear())
        part.write_parquet(folder / f"{session.isoformat()}.parquet", statistics=True)


def setup(root: Path, n_symbols: int, sessions: list[dt.date]) -> dict:
    """Store the history the nightly session needs (see the module docstring); returns what was stored."""
    import dagster as dg
    import polars as pl

    from market_assets.defs.assets.features import FEATURES, REGIME_FEATURES
    from market_assets.quant.features import compute_features
    from market_assets.quant.labels import compute_labels
    from market_assets.quant.validation import ValidationConfig, validate_prices
    from market_assets.quant.validation.received import store_under_sessions
    from market_assets.sources import build_source
    from market_assets.workflow.regimes import regime_probabilities_for

    nightly, history = sessions[-1], sessions[:-1]
    began = time.perf_counter()
    source = build_source("synthetic", seed=SEED, n_symbols=n_symbols, signal_strength=SIGNAL,
                          start=sessions[0].isoformat(), end=(nightly + dt.timedelta(days=7)).isoformat())
    panel = source.fetch(sessions[0], nightly + dt.timedelta(days=7))
    panel.write_parquet(root / "panel.parquet", statistics=True)
    simulated = time.perf_counter() - began
    raw = store_under_sessions(panel.filter(pl.col("date") < nightly), history)
    sample = validate_prices(raw.filter(pl.col("date") <= history[5]), sessions=history[:6],
                             universe=source.symbols(), config=ValidationConfig())
    assert sample.rejections.is_empty(), "the clean market had rejections"
    validated = raw.select(sample.validated.columns).cast(dict(sample.validated.schema))
    _write(root, "raw_prices", raw, history)
    _write(root, "validated_prices", validated, history)
    _write(root, "price_rejections", sample.rejections.clear(), history)
    del raw
    stored = history[-FEATURE_SESSIONS:]
    regimes, _ = regime_probabilities_for(validated, stored, calendar="XNYS")
    features = (compute_features(validated, features=FEATURES, output_dates=stored)
                .join(regimes.select("date", *REGIME_FEATURES), on="date", how="left"))
    _write(root, "market_regimes", regimes, stored)
    _write(root, "feature_table", features, stored)
    week = nightly - dt.timedelta(days=(nightly.weekday() + 1) % 7) - dt.timedelta(weeks=5)
    labelled = [s for s in stored if s < week]
    labels = compute_labels(validated.filter(pl.col("date") < week))
    _write(root, "labels", labels, labelled)
    del features, labels, validated
    stored_seconds = time.perf_counter() - began

    (root / "dagster_home").mkdir(exist_ok=True)  # no dagster.yaml: the default SQLite storage inside it
    definitions = bench_definitions(root, n_symbols)
    models = definitions.resolve_job_def("training_job")
    with dg.DagsterInstance.get() as instance:
        trained = models.execute_in_process(
            instance=instance, partition_key=week.isoformat(),
            run_config={"ops": {"trained_model": {"config": TRAINING}}})
        assert trained.success
        served = [s for s in history if s >= week]
        predicted = definitions.resolve_job_def("predictions_job").execute_in_process(
            instance=instance, tags={"dagster/asset_partition_range_start": served[0].isoformat(),
                                     "dagster/asset_partition_range_end": served[-1].isoformat()})
        assert predicted.success
    return {"simulate_s": simulated, "store_s": stored_seconds, "setup_s": time.perf_counter() - began,
            "week": week.isoformat(), "predicted_sessions": len(served), "feature_sessions": len(stored)}


# ---------------------------------------------------------------- the nightly (timed)

def step_durations(result) -> dict[str, float]:
    """Seconds of each step, from its STEP_SUCCESS event."""
    return {event.step_key: event.event_specific_data.duration_ms / 1000
            for event in result.all_events if event.event_type_value == "STEP_SUCCESS"}


def nightly_run(root: Path, n_symbols: int, nightly: dt.date) -> tuple[float, dict[str, float]]:
    import dagster as dg

    job = bench_definitions(root, n_symbols).resolve_job_def("daily_job")
    with dg.DagsterInstance.get() as instance:
        began = time.perf_counter()
        result = job.execute_in_process(instance=instance, partition_key=nightly.isoformat(), raise_on_error=False)
        seconds = time.perf_counter() - began
    if not result.success:
        raise SystemExit(f"daily_job failed for {nightly} (run {result.run_id}, DAGSTER_HOME {root / 'dagster_home'})")
    return seconds, step_durations(result)


def reference_run(root: Path, n_symbols: int, nightly: dt.date) -> dict[str, float]:
    """The same increment by the pure functions the assets call; seconds per part."""
    import polars as pl

    from market_assets.calendars import sessions_between
    from market_assets.defs.assets.features import FEATURES, REGIME_FEATURES
    from market_assets.defs.assets.monitoring import (
        DRIFT_LOOKBACK_SESSIONS, PERFORMANCE_LOOKBACK_SESSIONS, PerformanceConfig, with_interval_coverage)
    from market_assets.defs.assets.predictions import CHAMPION_LOOKBACK_SESSIONS
    from market_assets.defs.assets.prices import JUMP_LOOKBACK_SESSIONS, PriceValidationConfig
    from market_assets.defs.resources import MlflowResource
    from market_assets.defs.partitions import last_day_of_session
    from market_assets.quant.adjustments import rebase_to_stored
    from market_assets.quant.drift_report import report_columns, write_drift_html
    from market_assets.quant.features import compute_features, max_warmup
    from market_assets.quant.performance import judge_performance, performance_at, realized_returns
    from market_assets.quant.validation import ValidationConfig, validate_prices
    from market_assets.quant.validation.received import store_under_sessions
    from market_assets.settings import load_settings
    from market_assets.tracking.history import champion_for, champion_history
    from market_assets.workflow.drift_reference_cache import ReferenceCache, cached_champion_reference
    from market_assets.workflow.monitoring import DriftSettings, report_frames, session_drift
    from market_assets.workflow.prediction import predict_sessions
    from market_assets.workflow.regimes import LOOKBACK_SESSIONS, regime_probabilities_for
    from market_assets.workflow.training import registered_model_name

    settings = load_settings()
    data, out = root / "data", root / "reference"
    calendar = sessions_between("XNYS", settings.start_date, nightly)

    def read(asset: str, before: int, *, extra: list | None = None) -> pl.DataFrame:
        keys = calendar[-(before + 1):-1] if before else []
        paths = [data / asset / f"{s.isoformat()}.parquet" for s in keys]
        frames = [pl.scan_parquet([str(p) for p in paths if p.exists()]).collect(), *(extra or [])]
        return pl.concat(frames, how="diagonal_relaxed")

    tracking = MlflowResource(tracking_uri=settings.mlflow_tracking_uri, ui_url=settings.mlflow_ui_url).tracking()
    checks = PriceValidationConfig()
    seconds, t = {}, time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        seconds[name] = now - t
        t = now

    previous = calendar[-2]
    stored = pl.read_parquet(data / "raw_prices" / f"{previous.isoformat()}.parquet")
    source = PanelSource(str(root / "panel.parquet"), n_symbols)
    received = source.fetch(previous, last_day_of_session(nightly, settings))
    raw = store_under_sessions(rebase_to_stored(received, stored, previous, nightly).prices, [nightly])
    lap("raw_prices")
    window = read("raw_prices", JUMP_LOOKBACK_SESSIONS, extra=[raw])
    result = validate_prices(window, sessions=[nightly], universe=source.symbols(),
                             config=ValidationConfig(max_abs_log_jump=checks.max_abs_log_jump,
                                                     jump_reference_sessions=JUMP_LOOKBACK_SESSIONS,
                                                     max_bad_share=checks.max_bad_share))
    validated = result.validated
    lap("validated_prices")
    regimes, _ = regime_probabilities_for(read("validated_prices", LOOKBACK_SESSIONS, extra=[validated]), [nightly],
                                          calendar="XNYS")
    lap("market_regimes")
    prices = read("validated_prices", max_warmup(FEATURES), extra=[validated])
    features = (compute_features(prices, features=FEATURES, output_dates=[nightly])
                .join(regimes.select("date", *REGIME_FEATURES), on="date", how="left"))
    del prices
    lap("feature_table")
    predictions = predict_sessions(features, [nightly], tracking=tracking, task="regression", horizons=[1],
                                   calendar=calendar, max_champion_age=CHAMPION_LOOKBACK_SESSIONS, log=_Quiet())
    lap("predictions")
    served = read("predictions", PERFORMANCE_LOOKBACK_SESSIONS, extra=[predictions])
    realized = realized_returns(read("validated_prices", PERFORMANCE_LOOKBACK_SESSIONS, extra=[validated]), [1], nightly)
    metrics = performance_at(served, realized, nightly, window=20, by=("horizon", "model_version"))
    metrics = metrics.with_columns(pl.col("model_version").cast(pl.String), pl.col("horizon").cast(pl.Int32))
    judge_performance(metrics, PerformanceConfig().floors())
    with_interval_coverage(metrics, served, realized, nightly)
    lap("model_performance")
    drift_features = read("feature_table", DRIFT_LOOKBACK_SESSIONS, extra=[features])
    drift_prices = read("validated_prices", DRIFT_LOOKBACK_SESSIONS + 1, extra=[validated])
    drift_predictions = read("predictions", 40, extra=[predictions])
    name, config = registered_model_name("regression", 1), DriftSettings()
    champion = champion_for(champion_history(tracking, name), nightly)
    reference, _ = cached_champion_reference(champion, model_name=name, horizon=1, features=drift_features,
                                             prices=drift_prices, calendar=calendar, tracking=tracking,
                                             settings=config, cache=ReferenceCache(str(data)))
    drift = session_drift(reference, session=nightly, features=drift_features, predictions=drift_predictions,
                          realized=realized_returns(drift_prices, [1], nightly), calendar=calendar, settings=config)
    columns = report_columns(drift.table.filter(pl.col("kind") == "feature"),
                             always=("prediction", "realized_return"), n_features=10)
    out.mkdir(exist_ok=True)
    write_drift_html(*report_frames(reference, drift, columns), columns, str(out / "drift.html"))
    lap("drift_report")
    return seconds


class _Quiet:
    def info(self, message: str) -> None:
        pass


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def timed_child(root: Path, n_symbols: int, nightly: dt.date, repeat: int) -> dict:
    """The nightly run(s) then the reference run(s), in this (fresh) process."""
    import dagster  # noqa: F401 - the import is not the run's time (it is in its peak RSS)

    import_rss = peak_rss_gib()
    runs = [nightly_run(root, n_symbols, nightly) for _ in range(repeat)]
    run_rss = peak_rss_gib()
    references = [reference_run(root, n_symbols, nightly) for _ in range(repeat)]
    return {"run_s": [s for s, _ in runs], "steps": runs[0][1], "best_steps": min(runs, key=lambda r: r[0])[1],
            "import_rss_gib": import_rss,
            "run_rss_gib": run_rss, "reference_s": [sum(r.values()) for r in references],
            "reference_parts": references[-1], "peak_rss_gib": peak_rss_gib()}


# ---------------------------------------------------------------- the parent

def child(mode: str, root: Path, n_symbols: int, sessions: list[dt.date], repeat: int) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--root", str(root), "--symbols", str(n_symbols),
               "--nightly", sessions[-1].isoformat(), "--history-sessions", str(len(sessions) - 1),
               "--repeat", str(repeat)]
    log = root / f"{mode}.log"
    with log.open("w") as errors:  # Dagster's event log lines
        process = subprocess.Popen(command, env=environment(root, sessions[0]), stdout=subprocess.PIPE,
                                   stderr=errors, text=True)
        output, _ = process.communicate()
    if process.returncode:
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise SystemExit(f"{tail}\n{mode} for {n_symbols} symbols failed ({process.returncode}); see {log}")
    return json.loads(output.strip().splitlines()[-1])


def report(n_symbols: int, built: dict, timed: dict) -> None:
    cold, run, ref = timed["run_s"][0], min(timed["run_s"]), min(timed["reference_s"])
    steps = ", ".join(f"{k} {v:.1f}" for k, v in sorted(timed["steps"].items(), key=lambda kv: -kv[1]))
    parts = ", ".join(f"{k} {v:.1f}" for k, v in timed["reference_parts"].items())
    print(f"{n_symbols:>6,} symbols: setup {built['setup_s']:.0f} s untimed (simulation {built['simulate_s']:.0f} s; "
          f"champion week {built['week']}, {built['predicted_sessions']} sessions of predictions, "
          f"{built['feature_sessions']} of features)")
    print(f"        nightly daily_job run: first (cold process) {cold:.1f} s, best {run:.1f} s "
          f"(runs: {', '.join(f'{s:.1f}' for s in timed['run_s'])}); peak RSS {timed['run_rss_gib']:.2f} GiB "
          f"(after importing dagster {timed['import_rss_gib']:.2f})")
    print(f"        steps of the first run (s, STEP_SUCCESS): {steps}")
    if len(timed["run_s"]) > 1:
        best = ", ".join(f"{k} {v:.1f}" for k, v in sorted(timed["best_steps"].items(), key=lambda kv: -kv[1]))
        print(f"        steps of the best run: {best}")
    print(f"        reference, same increment without Dagster: {ref:7.1f} s  ({parts})")
    print(f"        ratio best run / best reference (both warm, same process): {run / ref:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, nargs="+", default=[500, 6000])
    parser.add_argument("--history-sessions", type=int, default=2520,
                        help="sessions of prices stored before the nightly session (>= 2502: a full feature lookback)")
    parser.add_argument("--nightly", type=dt.date.fromisoformat, default=dt.date(2026, 6, 30))
    parser.add_argument("--repeat", type=int, default=2,
                        help="nightly runs, then reference runs, per size: the first run pays the imports "
                        "(great_expectations, mlflow, evidently) as a fresh nightly process does; the best is compared")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directories")
    parser.add_argument("--child", choices=["setup", "nightly"], help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sessions = history_sessions(args.nightly, args.history_sessions)
    if args.child == "setup":
        print(json.dumps(setup(args.root, args.symbols[0], sessions)))
        return
    if args.child == "nightly":
        print(json.dumps(timed_child(args.root, args.symbols[0], args.nightly, args.repeat)))
        return
    print(f"nightly session {args.nightly}, {args.history_sessions} sessions of price history "
          f"({sessions[0]} …), SQLite instance, in-process executor, {os.cpu_count()} cores")
    results = {}
    for n_symbols in args.symbols:
        root = Path(tempfile.mkdtemp(prefix=f"bench_nightly_{n_symbols}_"))
        built = child("setup", root, n_symbols, sessions, args.repeat)
        timed = child("nightly", root, n_symbols, sessions, args.repeat)
        report(n_symbols, built, timed)
        results[n_symbols] = timed
        if not args.keep:
            shutil.rmtree(root)
    if len(results) >= 2:
        small, large = min(results), max(results)
        growth = large / small
        t = min(results[large]["run_s"]) / min(results[small]["run_s"])
        t0 = results[large]["run_s"][0] / results[small]["run_s"][0]
        m = results[large]["run_rss_gib"] / results[small]["run_rss_gib"]
        r = min(results[large]["reference_s"]) / min(results[small]["reference_s"])
        print(f"growth {large:,} / {small:,} symbols ({growth:.0f}x the symbols): run time {t:.2f}x best "
              f"({t0:.2f}x first), "
              f"peak RSS {m:.2f}x, reference time {r:.2f}x")


if __name__ == "__main__":
    main()
