"""The retrain sensor: a failed drift or performance check requests one retrain.

Facts of Dagster 1.13 this relies on: asset sensors see only
materializations and a failed check does not fail its run, so a plain
``@sensor`` reads the check history
(``event_log_storage.get_asset_check_execution_history``, newest first) and
keeps the last record id it handled in its cursor.  Only evaluations recorded
on a session (the monitoring assets log one per session for runs of up to 31
sessions, the nightly run included) can trigger: a long backfill's run-level
result names no session.  Which failures become requests (one per failure
episode, a cool-down, deterministic run keys, tags) is decided by
:func:`market_assets.quant.retrain_policy.decide_retrains`, which tests call
directly; this module only reads the instance and builds run requests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import dagster as dg

from market_assets.settings import load_settings

SETTINGS = load_settings()

#: check name -> trigger tag of the retrain it requests.
WATCHED_CHECKS: dict[dg.AssetCheckKey, str] = {
    dg.AssetCheckKey(dg.AssetKey("drift_report"), "no_feature_drift"): "drift",
    dg.AssetCheckKey(dg.AssetKey("drift_report"), "no_prediction_drift"): "drift",
    dg.AssetCheckKey(dg.AssetKey("model_performance"), "performance_above_floor"): "performance",
}
#: Records read per check and tick (older unseen failures wait for the next tick).
HISTORY_PAGE = 200


def failed_checks_since(instance: dg.DagsterInstance, after_id: int,
                        watched: dict[dg.AssetCheckKey, str] = WATCHED_CHECKS) -> list:
    """Failed, session-partitioned evaluations of the watched checks with a record id above ``after_id``."""
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    from market_assets.quant.retrain_policy import CheckFailure

    failures = []
    for key, trigger in watched.items():
        records = instance.event_log_storage.get_asset_check_execution_history(
            key, limit=HISTORY_PAGE, status={AssetCheckExecutionRecordStatus.FAILED}
        )
        for record in records:
            if record.id <= after_id:
                break  # newest first: the rest were handled
            if record.partition is None:
                continue  # a range run's summary: names no session
            failures.append(CheckFailure(check_name=key.name, partition=record.partition, record_id=record.id,
                                         timestamp=record.create_timestamp, trigger=trigger))
    return sorted(failures, key=lambda f: f.record_id)


def retrain_run_requests(instance: dg.DagsterInstance, cursor: str | None,
                         calendar: Sequence[dt.date] | None = None):
    """(run requests, new cursor, skip reasons) for one tick; plain, so tests call it directly."""
    from market_assets.calendars import sessions_between
    from market_assets.quant.retrain_policy import RetrainState, decide_retrains

    state = RetrainState.from_json(cursor)
    failures = failed_checks_since(instance, state.cursor)
    if not failures:
        return [], state.to_json(), ["no new failed drift or performance check"]
    # The latest session judged so far, by these failures or the ones the cursor remembers.
    seen = [f.partition for f in failures] + [e.last for e in state.episodes] + [state.last_request or ""]
    asof = max(dt.date.fromisoformat(day) for day in seen if day)
    calendar = calendar or sessions_between(SETTINGS.calendar, SETTINGS.start_date, asof)
    decision = decide_retrains(failures, state, calendar=calendar, asof=asof)
    requests = [
        dg.RunRequest(run_key=request.run_key, partition_key=request.session, tags=request.tags)
        for request in decision.requests
    ]
    skipped = [f"{failure.check_name} on {failure.partition}: {why}" for failure, why in decision.skipped]
    return requests, decision.state.to_json(), skipped


@dg.sensor(
    job_name="retrain_job",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="When no_feature_drift, no_prediction_drift or performance_above_floor fails on a session, "
    "request one retrain (retrained_model of that session), deduplicated, with a cool-down.",
)
def retrain_sensor(context: dg.SensorEvaluationContext):
    requests, cursor, skipped = retrain_run_requests(context.instance, context.cursor)
    for reason in skipped:
        context.log.info(reason)
    if not requests:
        return dg.SensorResult(skip_reason="; ".join(skipped[:3]) or "nothing to retrain", cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)


SENSORS = [retrain_sensor]
