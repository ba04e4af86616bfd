"""dagster-postgres' instance storage with one write made linear: the planned rows of asset checks.

When a run over a range of partitions is created, Dagster stores one
``PLANNED`` row per check *and partition* in ``asset_check_executions``, each
carrying the serialised planned event. Dagster 1.13.27 (and 1.13.29)
serialises that same event once per row, in the row-building loop of
``SqlEventLogStorage._store_asset_check_evaluation_planned``: a 2,520-session
backfill of ``validated_prices`` plans 9 checks, so 22,680 serialisations of a
~12 KB event (most of it the session calendar's holiday exclusions inside the
partitions subset), 87 s of the run's launch before its first step on this
project's machine (``benchmarks/bench_validated_prices.py --postgres
--profile``). Here the event is serialised once per check and the rows go in
as one ``executemany``; the rows stored are the same, column for column.

Everything else is dagster-postgres' own. ``deploy/dagster.yaml`` names this
class as its ``storage: custom`` with the same ``postgres_db`` config as
``storage: postgres``; every process that creates runs (webserver, daemon,
code server and run workers) must be able to import it, which both deploy
images do.
"""

from __future__ import annotations

from typing import Any

from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._serdes import serialize_value
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage
from dagster_postgres.storage import DagsterPostgresStorage


class CheckPlanningPostgresEventLogStorage(PostgresEventLogStorage):
    """PostgresEventLogStorage whose planned asset-check rows cost one serialisation per check."""

    def _store_asset_check_evaluation_planned(self, event, event_id: int | None) -> None:
        planned = event.dagster_event.event_specific_data
        partition_keys = planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
        row = dict(
            asset_key=planned.asset_key.to_string(),
            check_name=planned.check_name,
            run_id=event.run_id,
            execution_status=AssetCheckExecutionRecordStatus.PLANNED.value,
            evaluation_event=serialize_value(event),
            evaluation_event_timestamp=self._event_insert_timestamp(event),
            evaluation_event_storage_id=event_id,
        )
        with self.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.insert(), [{**row, "partition": key} for key in partition_keys])


class PostgresStorage(DagsterPostgresStorage):
    """``storage: postgres`` of dagster-postgres, with :class:`CheckPlanningPostgresEventLogStorage` as event log."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True, inst_data=None,
                 token_provider=None) -> None:
        # DagsterPostgresStorage.__init__'s assignments with our event log; not calling it keeps its
        # own event log storage (and its table check) from being built and thrown away.
        self.postgres_url = postgres_url
        self.should_autocreate_tables = should_autocreate_tables
        self._inst_data = inst_data
        self._run_storage = PostgresRunStorage(postgres_url, should_autocreate_tables, token_provider=token_provider)
        self._event_log_storage = CheckPlanningPostgresEventLogStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider)
        self._schedule_storage = PostgresScheduleStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider)
        DagsterStorage.__init__(self)

    @classmethod
    def from_config_value(cls, inst_data, config_value: dict[str, Any]) -> PostgresStorage:  # type: ignore[override]
        from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

        return cls(pg_url_from_config(config_value), config_value.get("should_autocreate_tables", True),
                   inst_data=inst_data, token_provider=get_token_provider_from_config(config_value))
