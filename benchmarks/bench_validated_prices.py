"""Backfill 500 symbols × 2,520 sessions (synthetic) through validated_prices in ONE run.

Prints wall time, rows/s, peak RSS, where the Dagster run spent its time, and
the ratio of its wall time to a reference run of the same pure work in the
same process, without Dagster: fetch, store rows under their sessions,
validate, and write the files a user gets (one Parquet file per session of
raw_prices, validated_prices and price_rejections).  That ratio is the
platform's overhead; the goal for the production instance is ≤ 1.3×.  The
reference runs before and after the Dagster runs; the ratios of the last
lines divide by the faster of the two, so load from other processes on the
machine does not flatter them.

Instances timed (each on the same inputs, in this process):

``--postgres``
    the production instance: deploy/dagster.yaml (its storage is
    ``market_assets.instance_storage.PostgresStorage``) on a scratch database of
    the PostgreSQL at 127.0.0.1:5432 with the production server setting
    ``default_toast_compression = lz4`` (set on that database), and the
    production event settings of deploy/docker-compose.yaml
    (``DAGSTER_EVENT_BATCH_SIZE=1000``,
    ``DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true``), set for that run
    only and restored afterwards;
``--plain-postgres``
    the same instance without those two variables and with the server's
    default compression (for comparison);
``--sqlite``
    the embedded SQLite instance (the default when no instance is named;
    SQLite's storage has no batch insert, so the settings do not apply).

``--profile FILE`` writes a cProfile of the first timed run to FILE (view with
``python -m pstats FILE``); profiling slows the run, so its figures are not
the benchmark's.

    .venv/bin/python benchmarks/bench_validated_prices.py [--symbols 500] [--sessions 2520] \
        [--postgres] [--plain-postgres] [--sqlite] [--profile FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import os
import resource
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

import dagster as dg
import polars as pl

from market_assets.defs.assets.prices import JUMP_LOOKBACK_SESSIONS, raw_prices, validate_prices_step
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.partitions import SESSIONS, last_day_of_session, partition_dates
from market_assets.defs.resources import PriceSourceResource

#: The event settings every production Dagster process runs with (deploy/docker-compose.yaml).
PRODUCTION_EVENT_SETTINGS = {
    "DAGSTER_EVENT_BATCH_SIZE": "1000",
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
}
#: The PostgreSQL server setting of the production database (deploy/docker-compose.yaml starts the
#: server with it): lz4 for the TOAST compression of large values (Dagster's serialised events,
#: ~6-12 KB each in a range run). pglz, the default, took 2.5 s longer of 7.5 s to store the planned
#: check rows of a 2,520-session run.
PRODUCTION_DATABASE_SETTINGS = {"default_toast_compression": "lz4"}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reference_run(source: PriceSourceResource, keys: list[str], root: Path) -> tuple[int, dict[str, float]]:
    """The same work without Dagster; returns (raw rows, seconds per phase).

    Fetch the range, store each row under its session, validate, and write one
    Parquet file per session of the raw, validated and rejected rows: what the
    three assets leave a user.  Dagster-only work (re-reading raw_prices as the
    step's input, per-session metadata, events) is not in it.
    """
    from market_assets.quant.validation import ValidationConfig, validate_prices
    from market_assets.quant.validation.received import store_under_sessions

    phases: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases[name] = now - clock
        clock = now

    sessions = partition_dates(keys)
    built = source.build()
    raw = store_under_sessions(built.fetch(sessions[0], last_day_of_session(sessions[-1])), sessions)
    lap("fetch")
    result = validate_prices(
        raw, sessions=sessions, universe=built.symbols(),
        config=ValidationConfig(jump_reference_sessions=JUMP_LOOKBACK_SESSIONS),
    )
    lap("validate")
    for name, frame in (("raw_prices", raw), ("validated_prices", result.validated),
                        ("price_rejections", result.rejections)):
        (root / name).mkdir(parents=True)
        parts = frame.partition_by("date", as_dict=True)
        for key in keys:
            part = parts.get((dt.date.fromisoformat(key),), frame.clear())
            part.write_parquet(root / name / f"{key}.parquet", statistics=True)
    lap("write")
    return raw.height, phases


def _set_environment(values: Mapping[str, str | None]) -> None:
    """Set each variable to its value, or unset it where the value is None."""
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextlib.contextmanager
def environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (a value) or unset (None) environment variables; restore them afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        _set_environment(values)
        yield
    finally:
        _set_environment(saved)


@contextlib.contextmanager
def postgres_instance(home: Path, settings: Mapping[str, str | None],
                      database_settings: Mapping[str, str]) -> Iterator[dg.DagsterInstance]:
    """The production instance configuration on a throw-away PostgreSQL database with these server settings."""
    from market_assets.settings import REPO_ROOT
    from market_assets_tests.services import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, scratch_postgres_database

    home.mkdir()
    shutil.copy(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    with scratch_postgres_database("market_assets_bench") as name:
        _set_database(name, database_settings)
        connection = dict(DAGSTER_PG_HOST=POSTGRES_HOST, DAGSTER_PG_PORT=str(POSTGRES_PORT),
                          DAGSTER_PG_USER=POSTGRES_USER, DAGSTER_PG_PASSWORD="", DAGSTER_PG_DB=name)
        with environment({**connection, **settings}), dg.DagsterInstance.from_config(str(home)) as instance:
            yield instance


def _set_database(name: str, values: Mapping[str, str]) -> None:
    """Database-level server settings (what the production server is started with), for new sessions."""
    import psycopg2

    from market_assets_tests.services import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER

    with contextlib.closing(psycopg2.connect(host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER,
                                             dbname=name)) as admin:
        admin.autocommit = True
        with admin.cursor() as cursor:
            for setting, value in values.items():
                cursor.execute(f'ALTER DATABASE "{name}" SET {setting} = %s', (value,))


@contextlib.contextmanager
def sqlite_instance(settings: Mapping[str, str | None]) -> Iterator[dg.DagsterInstance]:
    with environment(settings), dg.instance_for_test() as instance:
        yield instance


class StorageTimer:
    """Seconds the instance's event log storage spends writing, by kind (a few perf_counter calls per write).

    ``writes``: the outermost ``store_event``/``store_event_batch`` calls;
    ``check_planned``: the part of them spent in the rows Dagster stores for
    each planned asset check (``_store_asset_check_evaluation_planned``).
    """

    def __init__(self, storage) -> None:
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self._depth = 0
        for name, bucket in (("store_event", "writes"), ("store_event_batch", "writes"),
                             ("_store_asset_check_evaluation_planned", "check_planned")):
            if hasattr(storage, name):
                setattr(storage, name, self._timed(getattr(storage, name), bucket, name))

    def _timed(self, method, bucket: str, name: str):
        def timed(*args, **kwargs):
            outermost = bucket != "writes" or self._depth == 0
            self._depth += bucket == "writes"
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self._depth -= bucket == "writes"
                if outermost:
                    self.seconds[bucket] += time.perf_counter() - started
                    self.calls[name] += 1
        return timed

    def summary(self) -> str:
        return (f"event storage {self.seconds['writes']:.1f} s in {self.calls['store_event']:,} single and "
                f"{self.calls['store_event_batch']:,} batch writes, of which planned asset-check rows "
                f"{self.seconds['check_planned']:.1f} s")


def timed_run(instance: dg.DagsterInstance, source, keys: list[str], root: Path,
              profile: Path | None = None) -> tuple[float, str, StorageTimer]:
    storage = StorageTimer(instance.event_log_storage)
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    result = dg.materialize(
        [raw_prices, validate_prices_step],
        instance=instance,
        resources={"parquet_io_manager": PartitionedParquetIOManager(root=str(root)), "price_source": source},
        tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
    )
    if profiler:
        profiler.disable()
        profiler.dump_stats(str(profile))
    elapsed = time.perf_counter() - started
    assert result.success
    return elapsed, result.run_id, storage


def run_phases(instance: dg.DagsterInstance, run_id: str, started: float, ended: float) -> str:
    """Where the run's wall time went, from its event log (wall-clock timestamps)."""
    events = [e for e in instance.all_logs(run_id) if e.is_dagster_event]
    kinds = Counter(e.dagster_event_type.value for e in events)
    first = {}
    last = {}
    for event in events:
        key = (event.step_key, event.dagster_event_type.value)
        first.setdefault(key, event.timestamp)
        last[key] = event.timestamp
    run_start = first.get((None, "PIPELINE_START"), started)
    parts = [f"launch→start {run_start - started:5.1f} s"]
    for step in ("raw_prices", "validate_prices_step"):
        begin, end = first.get((step, "STEP_START")), last.get((step, "STEP_SUCCESS"))
        out = first.get((step, "STEP_OUTPUT"))
        if begin is None or end is None:
            continue
        parts.append(f"{step} {end - begin:5.1f} s (body to first output {out - begin:4.1f} s)"
                     if out else f"{step} {end - begin:5.1f} s")
    run_end = last.get((None, "PIPELINE_SUCCESS"), ended)
    parts.append(f"end→return {ended - run_end:4.1f} s")
    counted = ", ".join(f"{kinds[k]:,} {k.lower()}" for k in
                        ("ASSET_MATERIALIZATION_PLANNED", "ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION")
                        if kinds[k])
    return f"    phases: {'; '.join(parts)}\n    events: {len(events):,} ({counted})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=2520)
    parser.add_argument("--postgres", action="store_true",
                        help="time the production instance (PostgreSQL, production event settings)")
    parser.add_argument("--plain-postgres", action="store_true",
                        help="also time PostgreSQL without the production event settings")
    parser.add_argument("--sqlite", action="store_true", help="also time the embedded SQLite instance")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the first timed run here")
    args = parser.parse_args()
    keys = SESSIONS.get_partition_keys()[: args.sessions]
    source = PriceSourceResource(n_symbols=args.symbols, defects=0.001)
    unset = {name: None for name in PRODUCTION_EVENT_SETTINGS}
    print(f"{args.symbols} symbols × {len(keys)} sessions ({keys[0]} … {keys[-1]})")
    # The synthetic market is simulated once per process and cached: simulate it before any timing,
    # so the reference and the Dagster runs alike fetch from the cache (a provider's fetch costs both the same).
    built = source.build()
    built.fetch(partition_dates(keys)[0], last_day_of_session(partition_dates(keys)[-1]))
    with tempfile.TemporaryDirectory() as tmp:
        rows, reference = timed_reference(source, keys, Path(tmp) / "reference", "before")
        instances = {}
        if args.postgres:
            settings = " ".join(f"{k}={v}" for k, v in PRODUCTION_EVENT_SETTINGS.items())
            instances[f"postgres, production settings ({settings})"] = lambda home: postgres_instance(
                home, PRODUCTION_EVENT_SETTINGS, PRODUCTION_DATABASE_SETTINGS)
        if args.plain_postgres:
            instances["postgres, no event settings"] = lambda home: postgres_instance(home, unset, {})
        if args.sqlite or not instances:
            instances["sqlite"] = lambda home: sqlite_instance(unset)
        profile, timings = args.profile, {}
        for index, (name, manager) in enumerate(instances.items()):
            root = Path(tmp) / f"run{index}"
            with manager(Path(tmp) / f"home{index}") as instance:
                cpu = cpu_seconds()
                elapsed, run_id, storage = timed_run(instance, source, keys, root, profile)
                cpu = cpu_seconds() - cpu
                wall_end = time.time()
                detail = run_phases(instance, run_id, wall_end - elapsed, wall_end)
                runs = len(instance.get_runs())
            profile = None
            timings[name] = elapsed
            validated = pl.scan_parquet(str(root / "validated_prices" / "*.parquet")).select(pl.len()).collect().item()
            print(f"dagster, one run, {name}:\n"
                  f"    {elapsed:8.1f} s  {rows / elapsed:12,.0f} rows/s  CPU {cpu:.1f} s  "
                  f"peak RSS {peak_rss_mib():,.0f} MiB  runs={runs}  validated rows={validated:,}  "
                  f"ratio to reference {elapsed / reference:.2f}"
                  f"{'  (profiled)' if args.profile and index == 0 else ''}\n{detail}\n    {storage.summary()}", flush=True)
        shutil.rmtree(Path(tmp) / "reference")
        _, again = timed_reference(source, keys, Path(tmp) / "reference", "after")
        fastest = min(reference, again)  # the faster reference: load from other processes inflates neither ratio
        for name, elapsed in timings.items():
            print(f"overhead {name}: {elapsed:.1f} s / {fastest:.1f} s (faster reference) = "
                  f"{elapsed / fastest:.2f}x  (goal for the production settings: <= 1.3x)")


def cpu_seconds() -> float:
    """CPU time of this process (user + system); the PostgreSQL server's is not in it."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_reference(source: PriceSourceResource, keys: list[str], root: Path, when: str) -> tuple[int, float]:
    cpu, started = cpu_seconds(), time.perf_counter()
    rows, phases = reference_run(source, keys, root)
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    print(f"reference (pure, no Dagster), {when}: {elapsed:8.1f} s  {rows / elapsed:12,.0f} rows/s  CPU {cpu:.1f} s  "
          f"peak RSS {peak_rss_mib():,.0f} MiB  "
          f"({', '.join(f'{name} {seconds:.1f} s' for name, seconds in phases.items())})", flush=True)
    return rows, elapsed

if __name__ == "__main__":
    main()
