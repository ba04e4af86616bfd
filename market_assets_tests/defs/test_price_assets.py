"""raw_prices → validated_prices / price_rejections through Dagster, in one run."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl
import pytest

from market_assets.defs.assets.prices import raw_prices, validate_prices_step
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.resources import PriceSourceResource

RANGE = ("2024-01-02", "2024-03-28")


def _resources(root, **source) -> dict:
    return {
        "parquet_io_manager": PartitionedParquetIOManager(root=str(root)),
        "price_source": PriceSourceResource(**{"kind": "synthetic", "n_symbols": 20, **source}),
    }


def _materialize(assets, root, instance, *, start=RANGE[0], end=RANGE[1], **source):
    return dg.materialize(
        assets,
        instance=instance,
        resources=_resources(root, **source),
        tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end},
    )


def _read(root, asset: str) -> pl.DataFrame:
    return pl.read_parquet(sorted((root / asset).glob("*.parquet")))


# Every test here materializes through Dagster (seconds each).
pytestmark = pytest.mark.slow


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def test_a_range_is_one_run_and_nothing_is_lost(tmp_path, instance):
    result = _materialize([raw_prices, validate_prices_step], tmp_path, instance, defects=0.01)
    assert result.success
    assert len(instance.get_runs()) == 1
    raw, validated, rejected = (_read(tmp_path, a) for a in ("raw_prices", "validated_prices", "price_rejections"))
    assert raw.height == validated.height + rejected.height
    assert raw["source"].unique().to_list() == ["synthetic"]
    assert validated.select("date", "symbol").is_duplicated().sum() == 0
    assert validated.filter((pl.col("high") < pl.col("low")) | (pl.col("close") <= 0)).is_empty()
    assert rejected.height > 0 and rejected["reasons"].null_count() == 0
    # each session is its own partition file, weekends and holidays excluded
    files = sorted(p.stem for p in (tmp_path / "validated_prices").glob("*.parquet"))
    assert "2024-01-15" not in files  # Martin Luther King Jr. Day
    assert files[0] == RANGE[0] and files[-1] == RANGE[1]


def test_defects_show_as_failed_warnings_and_clean_rows_flow_on(tmp_path, instance):
    result = _materialize([raw_prices, validate_prices_step], tmp_path, instance, defects=0.01)
    evaluations = result.get_asset_check_evaluations()
    failed = {e.check_name: e for e in evaluations if not e.passed}
    assert failed, "the synthetic defects should fail at least one check"
    assert {e.severity for e in failed.values()} == {dg.AssetCheckSeverity.WARN}
    some = next(iter(failed.values()))
    assert some.metadata["failing_rows"].value > 0


def test_a_clean_market_passes_every_check(tmp_path, instance):
    result = _materialize([raw_prices, validate_prices_step], tmp_path, instance, defects=0.0)
    evaluations = result.get_asset_check_evaluations()
    assert evaluations and all(e.passed for e in evaluations), [
        (e.check_name, e.metadata) for e in evaluations if not e.passed
    ]
    assert _read(tmp_path, "price_rejections").is_empty()


def test_a_nightly_partition_equals_the_same_day_of_a_backfill(tmp_path, instance):
    backfill, nightly = tmp_path / "backfill", tmp_path / "nightly"
    _materialize([raw_prices, validate_prices_step], backfill, instance, defects=0.01)
    day = "2024-03-28"
    _materialize([raw_prices], nightly, instance, start="2024-03-20", end="2024-03-27", defects=0.01)
    _materialize([raw_prices, validate_prices_step], nightly, instance, start=day, end=day, defects=0.01)
    for asset in ("validated_prices", "price_rejections"):
        one = pl.read_parquet(nightly / asset / f"{day}.parquet")
        assert one.equals(pl.read_parquet(backfill / asset / f"{day}.parquet")), asset


@dg.asset(deps=["validated_prices"], partitions_def=raw_prices.partitions_def)
def downstream_of_prices() -> None:
    """Stands for feature_table: must not run when an ERROR check fails."""


def test_an_error_level_failure_blocks_downstream(tmp_path, instance):
    directory = tmp_path / "files"
    directory.mkdir()
    days = ["2024-01-02", "2024-01-03", "2024-01-04"]
    # two of three sessions have a negative close for the only symbol: 67% bad > 20%
    pl.DataFrame(
        {"Date": days, "Open": [10.0, 10.0, 10.0], "High": [11.0, 11.0, 11.0],
         "Low": [9.0, 9.0, 9.0], "Close": [10.5, -1.0, -1.0], "Adj Close": [10.5, -1.0, -1.0],
         "Volume": [100.0, 100.0, 100.0]}
    ).write_csv(directory / "ACME.csv")
    result = dg.materialize(
        [raw_prices, validate_prices_step, downstream_of_prices],
        instance=instance,
        resources=_resources(tmp_path / "data", kind="files", directory=str(directory)),
        tags={"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]},
        raise_on_error=False,
    )
    errors = [e for e in result.get_asset_check_evaluations() if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
    assert errors, "too many bad rows must fail at ERROR"
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert dg.AssetKey("validated_prices") in materialized  # stored, then the check failed
    assert dg.AssetKey("downstream_of_prices") not in materialized
    # the stored raw partition is exactly what was received
    raw = _read(tmp_path / "data", "raw_prices")
    assert raw.sort("date")["close"].to_list() == [10.5, -1.0, -1.0]
    assert raw["date"].to_list() == [dt.date.fromisoformat(d) for d in days]


def _materializations(instance, asset: str) -> dict[str, dict]:
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=1000).records
    return {r.partition_key: r.asset_materialization.metadata for r in records}


def test_a_range_run_gives_each_session_its_own_metadata_and_check_results(tmp_path, instance):
    start, end = "2024-03-04", "2024-03-15"
    result = _materialize([raw_prices, validate_prices_step], tmp_path, instance, start=start, end=end,
                          defects=0.02)
    assert result.success
    validated = _materializations(instance, "validated_prices")
    rejections = _materializations(instance, "price_rejections")
    assert len(validated) == 10
    rejected_counts = set()
    for key, metadata in validated.items():
        stored = pl.read_parquet(tmp_path / "validated_prices" / f"{key}.parquet")
        rejected = pl.read_parquet(tmp_path / "price_rejections" / f"{key}.parquet")
        assert metadata["dagster/row_count"].value == stored.height == metadata["rows"].value
        assert metadata["rows_rejected"].value == rejected.height == rejections[key]["rows"].value
        assert metadata["rejected_share"].value == pytest.approx(rejected.height / (stored.height + rejected.height))
        assert metadata["path"].value.endswith(f"{key}.parquet")
        assert "dagster/column_schema" not in metadata  # declared on the definition, exactly as written
        rejected_counts.add(rejected.height)
    assert len(rejected_counts) > 1, "every session shows the same count: a range aggregate leaked"
    # each session has its own evaluation of each check, and the run its summary
    key = dg.AssetCheckKey(dg.AssetKey("validated_prices"), "values_are_present")
    history = instance.event_log_storage.get_asset_check_execution_history(key, limit=100)
    by_partition = {r.evaluation.partition: r.evaluation for r in history}
    assert set(by_partition) == set(validated) | {None}
    for session, evaluation in by_partition.items():
        if session is None:
            assert evaluation.metadata["sessions_judged"].value == f"{start} … {end}"
            continue
        stored = pl.read_parquet(tmp_path / "price_rejections" / f"{session}.parquet")
        nulls = stored.filter(pl.col("reasons").str.contains("null_value")).height
        assert evaluation.metadata["failing_rows"].value == nulls
        assert evaluation.passed == (nulls == 0)


def test_one_session_run_records_its_check_results_on_the_session(tmp_path, instance):
    result = dg.materialize([raw_prices, validate_prices_step], instance=instance,
                            resources=_resources(tmp_path), partition_key="2024-03-04")
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    # each check once on the session, once as the run's result
    assert sorted((e.check_name, str(e.partition)) for e in evaluations) == sorted(
        (name, partition) for name in {e.check_name for e in evaluations} for partition in ("2024-03-04", "None")
    )
    assert len(evaluations) == 18


# ---- rows dated off-session or undated: stored under a session, rejected there, never dropped ----

WEEK = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]
SATURDAY = "2024-01-06"


def _write_files(directory, extra_days: tuple[str, ...] = (SATURDAY,)) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for symbol, days in (("ACME", WEEK + list(extra_days)), ("BETA", WEEK)):
        days = sorted(days)
        pl.DataFrame(
            {"Date": days, "Open": [10.0] * len(days), "High": [11.0] * len(days), "Low": [9.0] * len(days),
             "Close": [10.5] * len(days), "Adj Close": [10.5] * len(days), "Volume": [100.0] * len(days)}
        ).write_csv(directory / f"{symbol}.csv")


def _with_undated_row(monkeypatch) -> None:
    """Sources refuse empty dates; a provider may still deliver one: append it to every fetch."""
    build = PriceSourceResource.build

    class Undated:
        def __init__(self, inner):
            self.inner, self.name = inner, inner.name

        def symbols(self):
            return self.inner.symbols()

        def fetch(self, start, end):
            frame = self.inner.fetch(start, end)
            return pl.concat([frame, frame.head(1).with_columns(pl.lit(None, dtype=pl.Date).alias("date"),
                                                                 source=pl.lit("undated"))])

    monkeypatch.setattr(PriceSourceResource, "build", lambda self: Undated(build(self)))


def _files_run(root, instance, start, end, directory):
    return dg.materialize(
        [raw_prices, validate_prices_step], instance=instance,
        resources=_resources(root, kind="files", directory=str(directory)),
        tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end},
    )


def test_off_session_and_undated_rows_reach_price_rejections(tmp_path, instance, monkeypatch):
    _write_files(tmp_path / "files")
    _with_undated_row(monkeypatch)
    result = _files_run(tmp_path / "data", instance, WEEK[0], WEEK[-1], tmp_path / "files")
    assert result.success
    data = tmp_path / "data"
    raw, validated, rejected = (_read(data, a) for a in ("raw_prices", "validated_prices", "price_rejections"))
    assert raw.height == 2 * len(WEEK) + 2 == validated.height + rejected.height  # nothing dropped
    assert validated.height == 2 * len(WEEK)
    friday = pl.read_parquet(data / "price_rejections" / "2024-01-05.parquet")
    assert friday.select("date", "received_date", "symbol", "reasons").rows() == [
        (dt.date(2024, 1, 5), dt.date(2024, 1, 6), "ACME", "date_not_in_sessions")]
    first = pl.read_parquet(data / "price_rejections" / f"{WEEK[0]}.parquet")
    assert first.select("received_date", "source", "reasons").rows() == [
        (None, "undated", "null_value;date_not_in_sessions")]
    # the raw partition keeps the row as received, its date in received_date
    stored = pl.read_parquet(data / "raw_prices" / "2024-01-05.parquet").filter(pl.col("received_date") != pl.col("date"))
    assert stored.select("symbol", "received_date").rows() == [("ACME", dt.date(2024, 1, 6))]
    off = {k: m["rows_off_session"].value for k, m in _materializations(instance, "raw_prices").items()}
    assert off == {WEEK[0]: 1, "2024-01-03": 0, "2024-01-04": 0, "2024-01-05": 1, "2024-01-08": 0}
    # sessions_are_complete fails on the two sessions holding them, as a warning
    key = dg.AssetCheckKey(dg.AssetKey("validated_prices"), "sessions_are_complete")
    history = instance.event_log_storage.get_asset_check_execution_history(key, limit=100)
    verdicts = {r.evaluation.partition: (r.evaluation.passed, r.evaluation.severity) for r in history}
    assert verdicts[WEEK[0]] == verdicts["2024-01-05"] == (False, dg.AssetCheckSeverity.WARN)
    assert verdicts["2024-01-04"][0] and verdicts["2024-01-08"][0]


def test_a_weekend_row_lands_in_the_fridays_partition_nightly_as_in_a_backfill(tmp_path, instance):
    _write_files(tmp_path / "files", extra_days=(SATURDAY, "2024-01-07"))
    _files_run(tmp_path / "backfill", instance, WEEK[0], WEEK[-1], tmp_path / "files")
    _files_run(tmp_path / "nightly", instance, "2024-01-05", "2024-01-05", tmp_path / "files")
    for asset in ("raw_prices", "price_rejections"):
        nightly = pl.read_parquet(tmp_path / "nightly" / asset / "2024-01-05.parquet")
        assert nightly.equals(pl.read_parquet(tmp_path / "backfill" / asset / "2024-01-05.parquet")), asset
        assert nightly.height == (4 if asset == "raw_prices" else 2)
