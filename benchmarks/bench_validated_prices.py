"""Backfill 500 symbols × 2,520 sessions (synthetic) through validated_prices in ONE run.

Prints rows/s and peak RSS, and the ratio of the Dagster run's wall time to a
reference run of the same pure work in the same process (source.fetch +
validate_prices + one Parquet file per session, without Dagster): the
platform's overhead.

    .venv/bin/python benchmarks/bench_validated_prices.py [--symbols 500] [--sessions 2520]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=2520)
    args = parser.parse_args()
    keys = SESSIONS.get_partition_keys()[: args.sessions]
    source = PriceSourceResource(n_symbols=args.symbols, defects=0.001)
    print(f"{args.symbols} symbols × {len(keys)} sessions ({keys[0]} … {keys[-1]})")
    with tempfile.TemporaryDirectory() as tmp, dg.instance_for_test() as instance:
        started = time.perf_counter()
        rows = reference_run(source, keys, Path(tmp) / "reference")
        reference = time.perf_counter() - started
        print(f"reference (pure, no Dagster): {reference:8.1f} s  {rows / reference:12,.0f} rows/s  "
              f"peak RSS {peak_rss_mib():,.0f} MiB")
        started = time.perf_counter()
        result = dg.materialize(
            [raw_prices, validate_prices_step],
            instance=instance,
            resources={
                "parquet_io_manager": PartitionedParquetIOManager(root=str(Path(tmp) / "data")),
                "price_source": source,
            },
            tags={"dagster/asset_partition_range_start": keys[0],
                  "dagster/asset_partition_range_end": keys[-1]},
        )
        elapsed = time.perf_counter() - started
        runs = len(instance.get_runs())
        validated = pl.scan_parquet(str(Path(tmp) / "data" / "validated_prices" / "*.parquet")).select(pl.len()).collect().item()
    assert result.success
    print(f"dagster single run:           {elapsed:8.1f} s  {rows / elapsed:12,.0f} rows/s  "
          f"peak RSS {peak_rss_mib():,.0f} MiB  runs={runs}  validated rows={validated:,}")
    print(f"ratio dagster / reference: {elapsed / reference:.2f}")


if __name__ == "__main__":
    main()
