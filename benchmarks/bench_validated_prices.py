"""Backfill 500 symbols × 2,520 sessions (synthetic) through validated_prices in ONE run.

Prints rows/s and peak RSS, and the ratio of the Dagster run's wall time to a
reference run of the same pure work in the same process (source.fetch +
validate_prices + one Parquet file per session, without Dagster): the
platform's overhead.  The run is timed on the embedded SQLite instance and,
with ``--postgres``, on the production instance (deploy/dagster.yaml against
a scratch database on the PostgreSQL at 127.0.0.1:5432).  Most of the
overhead is Dagster recording per-partition events (planned and materialized,
three assets × every session), which the instance's storage pays for.

    .venv/bin/python benchmarks/bench_validated_prices.py [--symbols 500] [--sessions 2520] [--postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl

from market_assets.defs.assets.prices import JUMP_LOOKBACK_SESSIONS, raw_prices, validate_prices_step
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.partitions import SESSIONS, partition_dates
from market_assets.defs.resources import PriceSourceResource


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reference_run(source: PriceSourceResource, keys: list[str], root: Path) -> int:
    """The same work without Dagster: fetch, validate, write a file per session."""
    from market_assets.quant.validation import ValidationConfig, validate_prices

    sessions = partition_dates(keys)
    built = source.build()
    raw = built.fetch(sessions[0], sessions[-1])
    result = validate_prices(
        raw, sessions=sessions, universe=built.symbols(),
        config=ValidationConfig(jump_reference_sessions=JUMP_LOOKBACK_SESSIONS),
    )
    root.mkdir(parents=True)
    for (day,), part in result.validated.partition_by("date", as_dict=True).items():
        part.write_parquet(root / f"{day}.parquet")
    return raw.height


@contextlib.contextmanager
def postgres_instance(home: Path) -> Iterator[dg.DagsterInstance]:
    """The production instance configuration on a throw-away PostgreSQL database."""
    from market_assets.settings import REPO_ROOT
    from market_assets_tests.services import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, scratch_postgres_database

    home.mkdir()
    shutil.copy(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    with scratch_postgres_database("market_assets_bench") as name:
        os.environ.update(DAGSTER_PG_HOST=POSTGRES_HOST, DAGSTER_PG_PORT=str(POSTGRES_PORT),
                          DAGSTER_PG_USER=POSTGRES_USER, DAGSTER_PG_PASSWORD="", DAGSTER_PG_DB=name)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            yield instance


def timed_run(instance: dg.DagsterInstance, source, keys: list[str], root: Path) -> float:
    started = time.perf_counter()
    result = dg.materialize(
        [raw_prices, validate_prices_step],
        instance=instance,
        resources={"parquet_io_manager": PartitionedParquetIOManager(root=str(root)), "price_source": source},
        tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
    )
    assert result.success
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=2520)
    parser.add_argument("--postgres", action="store_true", help="also time the PostgreSQL instance")
    args = parser.parse_args()
    keys = SESSIONS.get_partition_keys()[: args.sessions]
    source = PriceSourceResource(n_symbols=args.symbols, defects=0.001)
    print(f"{args.symbols} symbols × {len(keys)} sessions ({keys[0]} … {keys[-1]})")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        rows = reference_run(source, keys, Path(tmp) / "reference")
        reference = time.perf_counter() - started
        print(f"reference (pure, no Dagster): {reference:8.1f} s  {rows / reference:12,.0f} rows/s  "
              f"peak RSS {peak_rss_mib():,.0f} MiB")
        instances = {"sqlite": dg.instance_for_test()}
        if args.postgres:
            instances["postgres"] = postgres_instance(Path(tmp) / "pg_home")
        for name, manager in instances.items():
            with manager as instance:
                root = Path(tmp) / name
                elapsed = timed_run(instance, source, keys, root)
                runs = len(instance.get_runs())
            validated = pl.scan_parquet(str(root / "validated_prices" / "*.parquet")).select(pl.len()).collect().item()
            print(f"dagster, one run, {name:8s}: {elapsed:8.1f} s  {rows / elapsed:12,.0f} rows/s  "
                  f"peak RSS {peak_rss_mib():,.0f} MiB  runs={runs}  validated rows={validated:,}  "
                  f"ratio to reference {elapsed / reference:.2f}")


if __name__ == "__main__":
    main()
