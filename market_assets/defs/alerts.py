"""Failure alerts: failed runs and failed asset checks posted to the alert webhook.

``run_failure_alert_sensor`` posts every failed run of this code location's
jobs.  A failed check does not fail its run (only a blocking ERROR check
stops its downstream steps), so ``check_failure_alert_sensor`` is a plain
``@sensor`` that reads each asset check's history of FAILED evaluations
(``event_log_storage.get_asset_check_execution_history``, newest first) and
keeps the last record id it has seen per check in a JSON cursor; a check it
sees for the first time starts from its latest failure, so turning alerts on
never replays history.  It sends one message per check and tick, listing that
check's new failures.

Both sensors run only when ``MARKET_ASSETS_ALERT_WEBHOOK_URL`` is set
(RUNNING by default then; STOPPED, and saying how to enable them, if not).
A webhook that is down costs a logged warning, never a failed tick: the alerts
of that tick are dropped (the cursor moves on) and a check tick stops posting
after its first undelivered message, so a dead webhook costs at most one
bounded wait (see :func:`market_assets.alerts.post_message`).  Which records
are new and what is sent are plain functions below, which tests call directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import dagster as dg
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecord,
    AssetCheckExecutionRecordStatus,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from dagster._utils.error import SerializableErrorInfo

from market_assets.alerts import (
    CheckFailure,
    RunFailure,
    StepError,
    check_failure_message,
    first_line,
    observed_and_threshold,
    post_message,
    run_failure_message,
    without_run_summaries,
)
from market_assets.settings import Settings, load_settings

DISABLED = (
    "Alerts are off: set MARKET_ASSETS_ALERT_WEBHOOK_URL to a Slack-compatible webhook URL and reload the "
    "code location; the alert sensors then start RUNNING."
)
#: Newest FAILED records read per check and tick; more new ones than this are counted as "N+".
FETCH_LIMIT = 50


def error_line(error: SerializableErrorInfo | None) -> str:
    """First line of the innermost cause of ``error`` (the user's exception, not Dagster's wrapper)."""
    if error is None:
        return "no error recorded"
    while error.cause is not None:
        error = error.cause
    line = first_line(error.message)
    qualified, _, rest = line.partition(": ")
    if rest and qualified.rsplit(".", 1)[-1] == error.cls_name:
        line = f"{error.cls_name}: {rest}"  # dagster._core.definitions.events.Failure: … -> Failure: …
    return line


def run_partitions(tags: Mapping[str, str]) -> str | None:
    """The run's partition key, ``"A…B"`` for a range run, or None."""
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start and end:
        return start if start == end else f"{start}…{end}"
    return tags.get("dagster/partition")


def run_failure_of(
    run: dg.DagsterRun, step_failures: Sequence[dg.DagsterEvent], failure_event: dg.DagsterEvent | None
) -> RunFailure:
    """What the alert says about ``run``: its failed steps, or the run's own failure when no step failed."""
    steps = tuple(
        StepError(step_key=e.step_key or "?", error=error_line(getattr(e.event_specific_data, "error", None)))
        for e in step_failures
    )
    reason = None
    if not steps and failure_event is not None:
        error = getattr(failure_event.event_specific_data, "error", None)
        reason = error_line(error) if error is not None else first_line(failure_event.message)
    return RunFailure(
        job_name=run.job_name, run_id=run.run_id, partitions=run_partitions(run.tags), steps=steps, reason=reason
    )


def check_failure_of(record: AssetCheckExecutionRecord) -> CheckFailure:
    """One failed check record as the alert shows it."""
    evaluation = record.event.asset_check_evaluation if record.event else None
    metadata = {k: getattr(v, "value", v) for k, v in (evaluation.metadata if evaluation else {}).items()}
    observed, threshold = observed_and_threshold(metadata)
    return CheckFailure(
        asset_path=tuple(record.key.asset_key.path),
        check_name=record.key.name,
        partition=record.partition or (evaluation.partition if evaluation else None),
        severity=evaluation.severity.value if evaluation else "ERROR",
        run_id=record.run_id,
        observed=observed,
        threshold=threshold,
        description=evaluation.description if evaluation else None,
    )


@dataclass(frozen=True)
class CheckScan:
    """The result of one look at the check histories."""

    #: new FAILED records per check, oldest first
    new: dict[dg.AssetCheckKey, list[AssetCheckExecutionRecord]]
    #: the next cursor: last seen FAILED record id per check (``AssetCheckKey.to_user_string()``)
    seen: dict[str, int]
    #: checks seen for the first time: started from their latest failure, nothing sent
    started: tuple[str, ...]
    #: checks with more new failures than :data:`FETCH_LIMIT` (the oldest were not read)
    truncated: frozenset[dg.AssetCheckKey]


def decode_cursor(cursor: str | None) -> dict[str, int]:
    """The sensor cursor as {check: last seen record id}; ValueError if it is not such a JSON object."""
    if not cursor:
        return {}
    try:
        seen = json.loads(cursor)
        if not isinstance(seen, dict) or not all(isinstance(v, int) for v in seen.values()):
            raise TypeError
    except (ValueError, TypeError):
        raise ValueError(
            f"check_failure_alert_sensor cursor {cursor[:80]!r}: expected a JSON object of check -> record id"
        ) from None
    return seen


def scan_check_failures(
    instance: dg.DagsterInstance,
    check_keys: Iterable[dg.AssetCheckKey],
    seen: Mapping[str, int],
    *,
    limit: int = FETCH_LIMIT,
) -> CheckScan:
    """FAILED records newer than ``seen`` for each of ``check_keys``.

    A check absent from ``seen`` starts from its latest FAILED record (0 if it
    never failed) without alerting; checks no longer defined drop out of the
    cursor.
    """
    new, next_seen, started, truncated = {}, {}, [], set()
    for key in sorted(check_keys, key=lambda k: k.to_user_string()):
        name = key.to_user_string()
        records = instance.event_log_storage.get_asset_check_execution_history(
            key, limit=limit, status={AssetCheckExecutionRecordStatus.FAILED}
        )
        latest = records[0].id if records else 0
        if name not in seen:
            next_seen[name] = latest
            started.append(name)
            continue
        fresh = [r for r in records if r.id > seen[name]]  # newest first
        next_seen[name] = max(seen[name], latest)
        if fresh:
            new[key] = fresh[::-1]
            if len(fresh) == limit:
                truncated.add(key)
    return CheckScan(new=new, seen=next_seen, started=tuple(started), truncated=frozenset(truncated))


def check_alert_messages(scan: CheckScan, ui_url: str) -> list[dict[str, object]]:
    """One message per check with new failures (a run's summary is left out when it recorded partitions)."""
    return [
        check_failure_message(
            without_run_summaries([check_failure_of(r) for r in records]), ui_url,
            more_than_listed=key in scan.truncated,
        )
        for key, records in scan.new.items()
    ]


@dataclass(frozen=True)
class Sent:
    """What a tick delivered: ``dropped`` messages were not sent after ``problem``."""

    delivered: int
    dropped: int
    problem: str | None = None


def send_messages(url: str, messages: Sequence[Mapping[str, object]], **post_options: float) -> Sent:
    """Post ``messages`` in order; after the first one that is not delivered, drop the rest."""
    for index, message in enumerate(messages):
        delivery = post_message(url, message, **post_options)
        if not delivery.delivered:
            return Sent(delivered=index, dropped=len(messages) - index, problem=delivery.problem)
    return Sent(delivered=len(messages), dropped=0)


def build_alert_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    """The two alert sensors for the webhook and UI of ``settings``."""
    url, ui_url = settings.alert_webhook_url, settings.ui_url
    status = dg.DefaultSensorStatus.RUNNING if url else dg.DefaultSensorStatus.STOPPED
    off = "" if url else f" {DISABLED}"

    @dg.run_failure_sensor(
        name="run_failure_alert_sensor",
        default_status=status,
        description="Posts each failed run of this code location (job, partitions, failing steps with their "
        f"first error line, link to the run) to the alert webhook.{off}",
    )
    def run_failure_alert_sensor(context: dg.RunFailureSensorContext):
        if url is None:
            return dg.SkipReason(DISABLED)
        failure = run_failure_of(context.dagster_run, context.get_step_failure_events(), context.failure_event)
        sent = send_messages(url, [run_failure_message(failure, ui_url)])
        if sent.problem:
            context.log.warning(f"run {failure.run_id} failed; its alert was not sent: {sent.problem}")
        return None  # None lets the sensor go on to the next failed run of this tick

    @dg.sensor(
        name="check_failure_alert_sensor",
        default_status=status,
        minimum_interval_seconds=60,
        description="Posts new failures of every asset check (asset, check, partition, severity, observed vs "
        f"threshold, link to the checks page) to the alert webhook, one message per check and tick.{off}",
    )
    def check_failure_alert_sensor(context: dg.SensorEvaluationContext):
        if url is None:
            return dg.SkipReason(DISABLED)
        if context.repository_def is None:
            raise dg.DagsterInvariantViolationError(
                "check_failure_alert_sensor needs the repository to list the asset checks: evaluate it in a code "
                "location, or pass repository_def= / definitions= to build_sensor_context"
            )
        note = ""
        try:
            seen = decode_cursor(context.cursor)
        except ValueError as exc:
            context.log.warning(f"{exc}; restarting from the latest failures")
            seen, note = {}, " (unreadable cursor: restarted from the latest failures)"
        scan = scan_check_failures(context.instance, context.repository_def.asset_graph.asset_check_keys, seen)
        sent = send_messages(url, check_alert_messages(scan, ui_url))
        if sent.problem:
            context.log.warning(f"{sent.dropped} check alert(s) not sent: {sent.problem}")
        summary = tick_summary(scan, sent) + note
        return dg.SensorResult(cursor=json.dumps(scan.seen, sort_keys=True), skip_reason=summary)

    return [run_failure_alert_sensor, check_failure_alert_sensor]


def tick_summary(scan: CheckScan, sent: Sent) -> str:
    """The check sensor's skip reason: what it read, sent and dropped."""
    parts = []
    if scan.started:
        parts.append(f"watching {len(scan.started)} new check(s) from their latest failure")
    if not scan.new:
        parts.append(f"no new check failures on {len(scan.seen)} check(s)")
    else:
        failures = sum(len(r) for r in scan.new.values())
        parts.append(
            f"{failures} new failed evaluation(s) of {len(scan.new)} check(s): {sent.delivered} alert(s) sent"
        )
    if sent.problem:
        parts.append(f"{sent.dropped} dropped: {sent.problem}")
    return "; ".join(parts)


ALERT_SENSORS = build_alert_sensors(load_settings())
