"""The alert sensors post real failures from a real instance, once each, and a dead webhook never fails a tick."""


import json
from collections.abc import Iterator

import dagster as dg
import pytest
from dagster import DagsterEventType

from market_assets.defs.alerts import (
    DISABLED,
    Sent,
    build_alert_sensors,
    check_failure_of,
    decode_cursor,
    error_line,
    run_failure_of,
    scan_check_failures,
    send_messages,
)
from market_assets.settings import load_settings
from market_assets_tests.test_alerts import TOKEN, WebhookServer

UI = "http://dagster.test:3000"
SESSIONS = dg.StaticPartitionsDefinition(["2024-07-03", "2024-07-05"])
TOY_CHECK = dg.AssetCheckKey(dg.AssetKey("toy_prices"), "rows_are_positive")
FINE_CHECK = dg.AssetCheckKey(dg.AssetKey("toy_features"), "features_are_finite")


@dg.asset(partitions_def=SESSIONS, check_specs=[dg.AssetCheckSpec("rows_are_positive", asset="toy_prices")])
def toy_prices(context: dg.AssetExecutionContext):
    """A toy asset whose check fails, on its session and for the run."""
    yield dg.Output(0)
    metadata = {"observed": 0, "limit": 1, "details": "no rows"}
    yield dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey("toy_prices"), check_name="rows_are_positive", passed=False,
        severity=dg.AssetCheckSeverity.WARN, partition=context.partition_key, metadata=metadata,
    )  # fmt: skip
    yield dg.AssetCheckResult(check_name="rows_are_positive", passed=False, severity=dg.AssetCheckSeverity.WARN,
                              metadata=metadata, description="The session has rows.")  # fmt: skip


@dg.asset(check_specs=[dg.AssetCheckSpec("features_are_finite", asset="toy_features")])
def toy_features():
    """A toy asset whose check passes."""
    yield dg.Output(1)
    yield dg.AssetCheckResult(check_name="features_are_finite", passed=True)


@dg.asset(partitions_def=SESSIONS)
def toy_model():
    """A toy asset that fails."""
    raise ValueError("3 rows have high < low\nTraceback follows")


DEFS = dg.Definitions(assets=[toy_prices, toy_features, toy_model])


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    server = WebhookServer()
    yield server
    server.stop()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def sensors_for(url: str | None) -> dict[str, dg.SensorDefinition]:
    env = {"MARKET_ASSETS_UI_URL": UI} | ({"MARKET_ASSETS_ALERT_WEBHOOK_URL": url} if url else {})
    return {sensor.name: sensor for sensor in build_alert_sensors(load_settings(env))}


def fail_check(instance: dg.DagsterInstance, session: str = "2024-07-05") -> None:
    dg.materialize([toy_prices], instance=instance, partition_key=session)


def fail_run(instance: dg.DagsterInstance, session: str = "2024-07-05") -> dg.DagsterRun:
    result = dg.materialize([toy_model], instance=instance, partition_key=session, raise_on_error=False)
    assert not result.success
    return instance.get_run_by_id(result.run_id)


def check_tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, repository_def=DEFS.get_repository_def())
    return sensor.evaluate_tick(context)


# --- without a webhook ----------------------------------------------------------------------------------------


def test_without_a_webhook_both_sensors_are_stopped_and_say_how_to_enable(instance: dg.DagsterInstance) -> None:
    sensors = sensors_for(None)
    assert set(sensors) == {"run_failure_alert_sensor", "check_failure_alert_sensor"}
    for sensor in sensors.values():
        assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
        assert "set MARKET_ASSETS_ALERT_WEBHOOK_URL" in sensor.description
    assert check_tick(sensors["check_failure_alert_sensor"], instance, None).skip_message == DISABLED
    assert all(s.default_status == dg.DefaultSensorStatus.RUNNING for s in sensors_for("http://x.test/h").values())


# --- check failures -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_check_failures_are_posted_once_each_and_history_is_not_replayed(
    instance: dg.DagsterInstance, webhook: WebhookServer
) -> None:
    sensor = sensors_for(webhook.url)["check_failure_alert_sensor"]
    fail_check(instance, "2024-07-03")  # history from before alerts were on

    first = check_tick(sensor, instance, None)
    assert webhook.bodies == []
    assert first.skip_message == (
        "watching 2 new check(s) from their latest failure; no new check failures on 2 check(s)"
    )
    baseline = json.loads(first.cursor)
    assert baseline[FINE_CHECK.to_user_string()] == 0 and baseline[TOY_CHECK.to_user_string()] > 0

    fail_check(instance, "2024-07-05")
    second = check_tick(sensor, instance, first.cursor)
    assert second.skip_message == "2 new failed evaluation(s) of 1 check(s): 1 alert(s) sent"
    (body,) = webhook.bodies
    assert body["text"].startswith(
        "Check failed (WARN): toy_prices rows_are_positive, 1 new failure(s); latest: partition 2024-07-05, WARN, "
        "observed 0 vs threshold 1 (run "
    )
    details = body["blocks"][1]["text"]["text"].splitlines()
    assert details[0] == "*1 new failure(s)*" and len(details) == 2  # the run's own result is left out
    assert details[1].startswith("• partition 2024-07-05, WARN, observed 0 vs threshold 1 (run ")
    assert f"{UI}/assets/toy_prices?view=checks&checkDetail=rows_are_positive" in body["text"]
    assert json.loads(second.cursor)[TOY_CHECK.to_user_string()] > baseline[TOY_CHECK.to_user_string()]

    third = check_tick(sensor, instance, second.cursor)
    assert len(webhook.bodies) == 1 and third.cursor == second.cursor
    assert third.skip_message == "no new check failures on 2 check(s)"


@pytest.mark.slow
def test_a_dead_webhook_never_fails_the_check_tick(instance: dg.DagsterInstance, webhook: WebhookServer) -> None:
    sensor = sensors_for(webhook.url)["check_failure_alert_sensor"]
    cursor = check_tick(sensor, instance, None).cursor
    fail_check(instance)
    webhook.stop()
    result = check_tick(sensor, instance, cursor)
    assert result.run_requests == []
    assert result.skip_message.startswith(
        "2 new failed evaluation(s) of 1 check(s): 0 alert(s) sent; 1 dropped: alert webhook http://127.0.0.1:"
    )
    assert "is unreachable" in result.skip_message and TOKEN not in result.skip_message
    assert json.loads(result.cursor)[TOY_CHECK.to_user_string()] > json.loads(cursor)[TOY_CHECK.to_user_string()]


def test_a_failing_webhook_stops_the_ticks_posting_after_the_first_message(webhook: WebhookServer) -> None:
    """A webhook answering 500: the first message is tried twice, the other two are dropped unsent."""
    webhook.responses = [(500, 0.0)] * 4
    sent = send_messages(webhook.url, [{"text": "a"}, {"text": "b"}, {"text": "c"}], retry_delay=0)
    assert (sent.delivered, sent.dropped) == (0, 3) and sent.problem.endswith("answered HTTP 500 (2 attempt(s))")
    assert webhook.bodies == [{"text": "a"}, {"text": "a"}]
    webhook.responses = []
    assert send_messages(webhook.url, [{"text": "d"}, {"text": "e"}]) == Sent(delivered=2, dropped=0)


def test_an_unreadable_cursor_restarts_from_the_latest_failures(
    instance: dg.DagsterInstance, webhook: WebhookServer
) -> None:
    fail_check(instance)
    result = check_tick(sensors_for(webhook.url)["check_failure_alert_sensor"], instance, "not json")
    assert webhook.bodies == []
    assert result.skip_message.endswith("(unreadable cursor: restarted from the latest failures)")
    with pytest.raises(ValueError, match=r"cursor '\[1, 2\]': expected a JSON object of check -> record id"):
        decode_cursor("[1, 2]")


def test_the_scan_reads_only_newer_failed_records_and_marks_a_cut(instance: dg.DagsterInstance) -> None:
    fail_check(instance, "2024-07-03")
    fail_check(instance, "2024-07-05")
    ids = [r.id for r in instance.event_log_storage.get_asset_check_execution_history(TOY_CHECK, limit=10)]
    assert len(ids) == 4  # a session evaluation and a run result per run
    name = TOY_CHECK.to_user_string()
    scan = scan_check_failures(instance, [TOY_CHECK], {name: ids[2]})
    assert [r.id for r in scan.new[TOY_CHECK]] == sorted(ids[:2]) and scan.seen == {name: ids[0]}
    assert not scan.truncated and scan.started == ()
    cut = scan_check_failures(instance, [TOY_CHECK], {name: 0}, limit=3)
    assert cut.truncated == {TOY_CHECK} and len(cut.new[TOY_CHECK]) == 3
    session = [check_failure_of(r) for r in scan.new[TOY_CHECK] if r.partition]
    assert [(f.partition, f.severity, f.observed, f.threshold) for f in session] == [("2024-07-05", "WARN", "0", "1")]


# --- run failures ---------------------------------------------------------------------------------------------


def failure_context(instance: dg.DagsterInstance, run: dg.DagsterRun):
    (record,) = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_FAILURE).records
    return dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor", dagster_event=record.event_log_entry.dagster_event,
        dagster_instance=instance, dagster_run=run,
    ).for_run_failure()  # fmt: skip


@pytest.mark.slow
def test_a_failed_run_is_posted_with_job_partition_step_error_and_link(
    instance: dg.DagsterInstance, webhook: WebhookServer
) -> None:
    run = fail_run(instance)
    assert sensors_for(webhook.url)["run_failure_alert_sensor"](failure_context(instance, run)) is None
    (body,) = webhook.bodies
    assert body["text"] == (
        "Run failed: __ephemeral_asset_job__, partition 2024-07-05: step toy_model: "
        f"ValueError: 3 rows have high < low ({UI}/runs/{run.run_id})"
    )
    assert body["blocks"][1]["text"]["text"] == "*Failed steps*\n• `toy_model`: ValueError: 3 rows have high &lt; low"
    assert webhook.requests[0]["path"] == f"/services/{TOKEN}"


@pytest.mark.slow
def test_run_failure_ticks_post_new_failures_and_survive_a_dead_webhook(
    instance: dg.DagsterInstance, webhook: WebhookServer
) -> None:
    """The sensor as the daemon runs it: its own cursor, then each new failed run."""
    sensor = sensors_for(webhook.url)["run_failure_alert_sensor"]
    fail_run(instance, "2024-07-03")  # before the sensor started: not posted
    first = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    assert first.skip_message.startswith("Initiating run_failure_alert_sensor") and webhook.bodies == []

    run = fail_run(instance)
    second = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=first.cursor))
    assert [b["text"].split(" (")[0] for b in webhook.bodies] == [
        "Run failed: __ephemeral_asset_job__, partition 2024-07-05: step toy_model: ValueError: 3 rows have high < low"
    ]
    assert [(r.dagster_run.run_id, r.error) for r in second.dagster_run_reactions] == [(run.run_id, None)]

    webhook.stop()
    dead = fail_run(instance)
    third = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=second.cursor))
    assert [(r.dagster_run.run_id, r.error) for r in third.dagster_run_reactions] == [(dead.run_id, None)]
    assert third.cursor != second.cursor and len(webhook.bodies) == 1


def test_without_a_webhook_the_run_sensor_skips(instance: dg.DagsterInstance) -> None:
    run = fail_run(instance)
    result = sensors_for(None)["run_failure_alert_sensor"](failure_context(instance, run))
    assert result == dg.SkipReason(DISABLED)


def test_a_run_without_failed_steps_reports_the_runs_own_error(instance: dg.DagsterInstance) -> None:
    run = fail_run(instance)
    context = failure_context(instance, run)
    failure = run_failure_of(run, [], context.failure_event)
    assert failure.steps == () and failure.reason == "ValueError: 3 rows have high < low"
    assert failure.partitions == "2024-07-05" and failure.job_name == "__ephemeral_asset_job__"
    ranged = run.with_tags({"dagster/asset_partition_range_start": "2024-07-03",
                            "dagster/asset_partition_range_end": "2024-07-05"})  # fmt: skip
    assert run_failure_of(ranged, [], None).partitions == "2024-07-03…2024-07-05"
    assert error_line(None) == "no error recorded"
