"""market_assets.instance_storage against dagster-postgres' own event log, on the real PostgreSQL.

The override only changes how the planned asset-check rows are written: the
same event stored through both storages must leave the same rows, column for
column, with a partitioned range and without partitions.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest
import sqlalchemy as db
from dagster._core.events import AssetCheckEvaluationPlanned, DagsterEvent, DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster_postgres import PostgresEventLogStorage

from market_assets.defs.partitions import SESSIONS
from market_assets.instance_storage import CheckPlanningPostgresEventLogStorage
from market_assets_tests import services

pytestmark = pytest.mark.postgres

RUN_ID = "0f0e0d0c-0b0a-4908-8706-050403020100"


def _url(database: str) -> str:
    return f"postgresql+psycopg2://{services.POSTGRES_USER}@{services.POSTGRES_HOST}:{services.POSTGRES_PORT}/{database}"


def _planned(check_name: str, partitions_subset) -> EventLogEntry:
    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED.value,
        job_name="backfill_job",
        message=f"backfill_job intends to execute asset check {check_name} on asset validated_prices",
        event_specific_data=AssetCheckEvaluationPlanned(
            asset_key=dg.AssetKey("validated_prices"), check_name=check_name, partitions_subset=partitions_subset),
        step_key="validate_prices_step",
    )
    return EventLogEntry(error_info=None, level="DEBUG", user_message="", run_id=RUN_ID,
                         timestamp=dt.datetime(2026, 1, 12, 23, 30, tzinfo=dt.UTC).timestamp(), dagster_event=event)


def _rows(storage) -> list[dict]:
    columns = [c for c in AssetCheckExecutionsTable.c if c.name not in {"id", "create_timestamp"}]
    with storage.index_connection() as conn:
        found = conn.execute(db.select(*columns).order_by(AssetCheckExecutionsTable.c.check_name,
                                                          AssetCheckExecutionsTable.c.partition)).mappings()
        return [dict(row) for row in found]


@pytest.fixture
def two_event_logs():
    with services.scratch_postgres_database("market_assets_plain") as plain, \
            services.scratch_postgres_database("market_assets_ours") as ours:
        storages = PostgresEventLogStorage(_url(plain)), CheckPlanningPostgresEventLogStorage(_url(ours))
        try:
            yield storages
        finally:
            for storage in storages:
                storage.dispose()


def test_planned_check_rows_are_the_same_as_dagster_postgres_writes(two_event_logs) -> None:
    keys = SESSIONS.get_partition_keys()[:40]
    subset = SESSIONS.get_partition_subset_in_time_window(dg.TimeWindow(
        SESSIONS.time_window_for_partition_key(keys[0]).start,
        SESSIONS.time_window_for_partition_key(keys[-1]).end)).to_serializable_subset()
    events = [_planned("ohlc_is_consistent", subset), _planned("sessions_are_complete", subset),
              _planned("unpartitioned_check", None)]
    plain, ours = two_event_logs
    for storage in (plain, ours):
        for event in events:
            storage.store_event(event)

    expected, stored = _rows(plain), _rows(ours)
    assert len(expected) == 2 * len(keys) + 1  # one row per check and session, one for the check without partitions
    assert sorted(r["partition"] for r in stored if r["check_name"] == "ohlc_is_consistent") == keys
    assert stored == expected
    # what a reader gets back: the planned event, whole, on every row
    record = ours.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("validated_prices"), "ohlc_is_consistent"), limit=100)
    assert len(record) == len(keys)
    assert {r.event.dagster_event.event_specific_data.partitions_subset.get_partition_keys() == keys
            for r in record} == {True}
