"""Alert messages say what failed and link to it; delivery is bounded and never raises for a dead webhook."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from market_assets.alerts import (
    MAX_LISTED,
    CheckFailure,
    Delivery,
    RunFailure,
    StepError,
    check_failure_message,
    check_url,
    first_line,
    observed_and_threshold,
    post_message,
    run_failure_message,
    run_url,
    without_run_summaries,
)
from market_assets.settings import LOCAL_DAGSTER_UI, load_settings

UI = "http://dagster.test:3000"
TOKEN = "T000/B000/s3cr3tT0ken"


class WebhookServer:
    """A local webhook in a thread: records each POST, answers from ``responses`` ((status, delay) each), then 200."""

    def __init__(self, responses: list[tuple[int, float]] | None = None) -> None:
        self.requests: list[dict[str, object]] = []
        self.responses = list(responses or [])
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.requests.append(
                    {"path": self.path, "content_type": self.headers.get("Content-Type"), "json": json.loads(body)}
                )
                status, delay = server.responses.pop(0) if server.responses else (200, 0.0)
                time.sleep(delay)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._http.handle_error = lambda *args: None  # a client that gave up closes the socket: not an error here
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/services/{TOKEN}"
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def bodies(self) -> list[dict[str, object]]:
        return [r["json"] for r in self.requests]

    def stop(self) -> None:
        """Stop serving and close the port: later connections are refused."""
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    server = WebhookServer()
    yield server
    server.stop()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/services/{TOKEN}"


# --- settings -------------------------------------------------------------------------------------------------


def test_alerts_are_off_by_default_and_link_to_the_local_ui() -> None:
    settings = load_settings({})
    assert settings.alert_webhook_url is None
    assert settings.ui_url == LOCAL_DAGSTER_UI == "http://127.0.0.1:3000"


def test_the_webhook_url_is_read_but_never_shown() -> None:
    url = f"https://hooks.slack.com/services/{TOKEN}"
    env = {"MARKET_ASSETS_ALERT_WEBHOOK_URL": url, "MARKET_ASSETS_UI_URL": "https://dagster.example/"}
    settings = load_settings(env)
    assert settings.alert_webhook_url == url and settings.ui_url == "https://dagster.example"
    assert TOKEN not in repr(settings)
    assert {"MARKET_ASSETS_ALERT_WEBHOOK_URL", "MARKET_ASSETS_UI_URL"} <= settings.variables_set


def test_a_malformed_webhook_url_is_refused_without_its_value() -> None:
    expected = r"MARKET_ASSETS_ALERT_WEBHOOK_URL: expected an http:// or https:// URL"
    with pytest.raises(ValueError, match=expected) as info:
        load_settings({"MARKET_ASSETS_ALERT_WEBHOOK_URL": f"hooks.slack.com/services/{TOKEN}"})
    assert TOKEN not in str(info.value) and info.value.__context__ is None


def test_a_malformed_ui_url_is_refused() -> None:
    with pytest.raises(ValueError, match=r"MARKET_ASSETS_UI_URL='localhost:3000': expected an http:// or https://"):
        load_settings({"MARKET_ASSETS_UI_URL": "localhost:3000"})


# --- message building -----------------------------------------------------------------------------------------


def test_first_line_skips_blanks_cuts_long_lines_and_scrubs_secrets() -> None:
    assert first_line("\n\n  ValueError: bad\nTraceback …") == "ValueError: bad"
    assert first_line("x" * 400, limit=10) == "x" * 9 + "…"
    assert first_line(None) == ""
    assert first_line("GET https://p.example/q?apikey=ABCDEF123&s=1") == "GET https://p.example/q?apikey=***&s=1"
    assert first_line("cannot reach postgresql://user:hunter22@db/x") == "cannot reach postgresql://user:***@db/x"


def test_links_point_at_the_run_and_at_the_asset_checks_page() -> None:
    assert run_url(UI + "/", "abc-123") == "http://dagster.test:3000/runs/abc-123"
    assert (
        check_url(UI, ("prices", "validated prices"), "ohlc_is_consistent")
        == "http://dagster.test:3000/assets/prices/validated%20prices?view=checks&checkDetail=ohlc_is_consistent"
    )


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"observed": 0.123456789, "limit": 0.1}, ("0.123457", "0.1")),
        ({"value": 3, "threshold": 2, "observed": None}, ("3", "2")),
        ({"observed": "12 rows", "expected": {"max": 0}}, ("12 rows", '{"max": 0}')),
        ({"max_null_share": 0.4}, (None, None)),
    ],
)
def test_observed_and_threshold_come_from_the_checks_metadata(metadata, expected) -> None:
    assert observed_and_threshold(metadata) == expected


RUN = RunFailure(
    job_name="daily_job", run_id="0123abcd-run", partitions="2024-07-05",
    steps=(StepError("validated_prices", "ValueError: 3 rows have high < low"),),
)  # fmt: skip


def test_a_run_failure_names_job_partition_failing_step_and_links_to_the_run() -> None:
    message = run_failure_message(RUN, UI)
    assert message["text"] == (
        "Run failed: daily_job, partition 2024-07-05: step validated_prices: ValueError: 3 rows have high < low "
        "(http://dagster.test:3000/runs/0123abcd-run)"
    )
    header, details = (block["text"]["text"] for block in message["blocks"])
    link = "http://dagster.test:3000/runs/0123abcd-run"
    assert header == f"*Run failed*: `daily_job`, partition 2024-07-05\nRun <{link}|0123abcd-run>"
    assert details == "*Failed steps*\n• `validated_prices`: ValueError: 3 rows have high &lt; low"
    assert all(block["type"] == "section" and block["text"]["type"] == "mrkdwn" for block in message["blocks"])


def test_a_run_failure_without_failed_steps_gives_the_runs_reason_and_long_step_lists_are_cut() -> None:
    crashed = RunFailure("training_job", "r1", None, steps=(), reason="run worker exited unexpectedly")
    message = run_failure_message(crashed, UI)
    assert message["text"] == f"Run failed: training_job: run worker exited unexpectedly ({UI}/runs/r1)"
    assert message["blocks"][1]["text"]["text"] == "*Reason*: run worker exited unexpectedly"
    many = RunFailure("j", "r2", "A…B", steps=tuple(StepError(f"s{i}", "E: x") for i in range(MAX_LISTED + 3)))
    details = run_failure_message(many, UI)["blocks"][1]["text"]["text"]
    assert details.count("\n• `s") == MAX_LISTED and details.endswith("• and 3 more steps")


def failure(partition: str | None, severity: str = "WARN", run_id: str = "run00001xyz") -> CheckFailure:
    return CheckFailure(("feature_table",), "features_are_finite", partition, severity, run_id,
                        observed="4", threshold="0", description="Features hold no NaN & no inf.")  # fmt: skip


def test_check_failures_name_asset_check_partitions_severity_and_observed_vs_threshold() -> None:
    message = check_failure_message([failure("2024-07-04", "ERROR"), failure("2024-07-05")], UI)
    link = "http://dagster.test:3000/assets/feature_table?view=checks&checkDetail=features_are_finite"
    assert message["text"] == (
        "Check failed (ERROR): feature_table features_are_finite, 2 new failure(s); latest: partition 2024-07-05, "
        f"WARN, observed 4 vs threshold 0 (run run00001) ({link})"
    )
    header, details = (block["text"]["text"] for block in message["blocks"])
    assert header == (
        "*Check failed* (ERROR): `feature_table` · `features_are_finite`\n"
        f"<{link.replace('&', '&amp;')}|Checks page>\nFeatures hold no NaN &amp; no inf."
    )
    assert details.splitlines() == [
        "*2 new failure(s)*",
        "• partition 2024-07-04, ERROR, observed 4 vs threshold 0 (run run00001)",
        "• partition 2024-07-05, WARN, observed 4 vs threshold 0 (run run00001)",
    ]


def test_many_check_failures_list_the_latest_and_count_the_rest() -> None:
    failures = [failure(f"p{i:02d}") for i in range(MAX_LISTED + 5)]
    lines = check_failure_message(failures, UI)["blocks"][1]["text"]["text"].splitlines()
    assert lines[:2] == ["*15 new failure(s)*", "• … 5 earlier"] and lines[-1].startswith("• partition p14,")
    cut = check_failure_message(failures, UI, more_than_listed=True)
    assert "15+ new failure(s)" in cut["text"] and "• … 5+ earlier" in cut["blocks"][1]["text"]["text"]
    no_partition = CheckFailure(("a", "b"), "c", None, "ERROR", "r")
    assert "no partition, ERROR (run r)" in check_failure_message([no_partition], UI)["text"]
    with pytest.raises(ValueError, match="needs at least one CheckFailure, got none"):
        check_failure_message([], UI)


def test_a_runs_summary_is_dropped_only_when_the_run_recorded_partitions() -> None:
    short_run = [failure(None, run_id="short"), failure("2024-07-05", run_id="short")]
    backfill = [failure(None, run_id="backfill")]
    assert without_run_summaries(short_run + backfill) == [short_run[1], backfill[0]]


# --- delivery -------------------------------------------------------------------------------------------------


def test_a_message_is_posted_as_json(webhook: WebhookServer) -> None:
    payload = run_failure_message(RUN, UI)
    assert post_message(webhook.url, payload) == Delivery(delivered=True, attempts=1)
    assert webhook.requests == [{"path": f"/services/{TOKEN}", "content_type": "application/json", "json": payload}]


def test_a_server_error_is_retried_once(webhook: WebhookServer) -> None:
    webhook.responses = [(500, 0.0)]
    assert post_message(webhook.url, {"text": "x"}, retry_delay=0) == Delivery(delivered=True, attempts=2)
    webhook.responses = [(503, 0.0), (500, 0.0), (500, 0.0)]
    delivery = post_message(webhook.url, {"text": "y"}, retry_delay=0)
    assert not delivery.delivered and delivery.attempts == 2 and len(webhook.requests) == 4
    assert delivery.problem == f"alert webhook {webhook.url.split('/services')[0]} answered HTTP 500 (2 attempt(s))"


def test_a_client_error_is_not_retried(webhook: WebhookServer) -> None:
    webhook.responses = [(404, 0.0)]
    delivery = post_message(webhook.url, {"text": "x"}, retry_delay=0)
    assert (delivery.delivered, delivery.attempts, len(webhook.requests)) == (False, 1, 1)
    assert "answered HTTP 404" in delivery.problem and TOKEN not in delivery.problem


def test_a_refused_connection_is_retried_once_and_reported_without_the_token() -> None:
    slept: list[float] = []
    delivery = post_message(closed_port_url(), {"text": "x"}, sleep=slept.append)
    assert (delivery.delivered, delivery.attempts, slept) == (False, 2, [0.5])
    assert "is unreachable (" in delivery.problem and "refused" in delivery.problem.lower()
    assert TOKEN not in delivery.problem and "/services" not in delivery.problem


def test_a_timeout_is_bounded_and_not_retried(webhook: WebhookServer) -> None:
    webhook.responses = [(200, 1.5)]
    start = time.monotonic()
    delivery = post_message(webhook.url, {"text": "x"}, timeout=0.3)
    assert time.monotonic() - start < 1.2
    assert (delivery.delivered, delivery.attempts) == (False, 1)
    assert delivery.problem.endswith("did not answer within 0.3 s (1 attempt(s))")


def test_no_retry_when_the_budget_is_spent(webhook: WebhookServer) -> None:
    webhook.responses = [(500, 0.0)]
    ticks = iter([0.0, 0.0, 7.0])  # start, before the attempt, after it: 1 s left of 8, minus the delay
    delivery = post_message(webhook.url, {"text": "x"}, clock=lambda: next(ticks), sleep=lambda s: None)
    assert (delivery.delivered, delivery.attempts) == (False, 1)
