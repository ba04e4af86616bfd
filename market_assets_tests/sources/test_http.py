"""The shared HTTP client: retries, backoff, Retry-After, timeouts, rate limit, redaction."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from market_assets.sources.base import SourceError
from market_assets.sources.alpha_vantage import AlphaVantageSource
from market_assets.sources.http import HttpClient, RetryableResponse, RetryPolicy, redact
from market_assets.sources.stooq import StooqSource

from .conftest import FakeClock, Reply, ScriptedServer


def _client(clock: FakeClock, random: Callable[[], float] | None = None, **policy: object) -> HttpClient:
    retry = RetryPolicy(**{"timeout": 2.0, "max_retries": 3, "backoff": 1.0, "jitter": 0.0, **policy})  # type: ignore[arg-type]
    return HttpClient(provider="test", retry=retry, sleep=clock.sleep, clock=clock, random=random)


def test_500_then_200_retries_once_after_the_backoff(http_server: ScriptedServer, fake_clock: FakeClock) -> None:
    http_server.script("/x", Reply(status=500, body="oops"), Reply(body="ok"))
    client = _client(fake_clock)
    assert client.get(http_server.url("/x"), {}, symbol="AAPL", parse=str) == "ok"
    assert fake_clock.sleeps == [1.0]
    assert len(http_server.requests) == 2


def test_backoff_doubles_with_jitter_and_caps(http_server: ScriptedServer, fake_clock: FakeClock) -> None:
    http_server.script("/x", Reply(status=503), Reply(status=502), Reply(status=500), Reply(body="ok"))
    client = _client(fake_clock, backoff=2.0, max_backoff=5.0, jitter=0.1, random=lambda: 0.5)
    client.get(http_server.url("/x"), {}, symbol="AAPL", parse=str)
    assert fake_clock.sleeps == pytest.approx([2.1, 4.2, 5.25])


def test_429_honours_retry_after(http_server: ScriptedServer, fake_clock: FakeClock) -> None:
    http_server.script("/x", Reply(status=429, headers={"Retry-After": "7"}), Reply(body="ok"))
    assert _client(fake_clock).get(http_server.url("/x"), {}, symbol="AAPL", parse=str) == "ok"
    assert fake_clock.sleeps == [7.0]


def test_slow_response_beyond_the_timeout_is_retried(http_server: ScriptedServer, fake_clock: FakeClock) -> None:
    http_server.script("/x", Reply(body="late", delay=1.0), Reply(body="ok"))
    client = _client(fake_clock, timeout=0.2)
    assert client.get(http_server.url("/x"), {}, symbol="AAPL", parse=str) == "ok"
    assert fake_clock.sleeps == [1.0]


def test_always_500_gives_up_after_max_retries(
    http_server: ScriptedServer, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    http_server.script("/x", Reply(status=500))
    client = _client(fake_clock, max_retries=2)
    with caplog.at_level(logging.WARNING, logger="market_assets.sources"):
        with pytest.raises(SourceError, match=r"test: no data for 'AAPL' after 3 attempts; last failure: HTTP 500"):
            client.get(http_server.url("/x"), {}, symbol="AAPL", parse=str)
    assert len(http_server.requests) == 3
    assert fake_clock.sleeps == [1.0, 2.0]
    assert [r.message.split(";")[1].strip()[:10] for r in caplog.records] == ["retry 1 of", "retry 2 of"]


def test_client_errors_are_not_retried(http_server: ScriptedServer, fake_clock: FakeClock) -> None:
    http_server.script("/x", Reply(status=404, body="Not Found"))
    with pytest.raises(SourceError, match=r"test: HTTP 404 for 'AAPL' .*body: 'Not Found'"):
        _client(fake_clock).get(http_server.url("/x"), {}, symbol="AAPL", parse=str)
    assert len(http_server.requests) == 1 and fake_clock.sleeps == []


def test_connection_errors_are_retried_then_reported(closed_port_url: str, fake_clock: FakeClock) -> None:
    with pytest.raises(SourceError, match=r"after 2 attempts; last failure: ConnectionError"):
        _client(fake_clock, max_retries=1).get(closed_port_url, {}, symbol="AAPL", parse=str)
    assert fake_clock.sleeps == [1.0]


def test_a_parser_can_ask_for_a_retry(http_server: ScriptedServer, fake_clock: FakeClock) -> None:
    http_server.script("/x", Reply(body="busy"), Reply(body="done"))

    def parse(text: str) -> str:
        if text == "busy":
            raise RetryableResponse("server busy")
        return text

    assert _client(fake_clock).get(http_server.url("/x"), {}, symbol="AAPL", parse=parse) == "done"


def test_rate_limit_spaces_request_starts(http_server: ScriptedServer, fake_clock: FakeClock) -> None:
    http_server.script("/x", Reply(body="ok"))
    client = _client(fake_clock, min_interval=5.0)
    for _ in range(3):
        client.get(http_server.url("/x"), {}, symbol="AAPL", parse=str)
    assert fake_clock.sleeps == [5.0, 5.0]


def test_invalid_policies_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"timeout must be > 0 .*got RetryPolicy\(timeout=0"):
        RetryPolicy(timeout=0)
    with pytest.raises(ValueError, match=r"got RetryPolicy\(.*max_retries=-1"):
        RetryPolicy(max_retries=-1)


def test_each_provider_declares_its_policy_once() -> None:
    assert StooqSource.DEFAULT_RETRY == RetryPolicy(min_interval=1.0)
    assert AlphaVantageSource.DEFAULT_RETRY == RetryPolicy(min_interval=12.0, backoff=15.0)
    assert StooqSource(symbols=["AAPL"]).client.retry is StooqSource.DEFAULT_RETRY


def test_redact_hides_api_keys_in_urls() -> None:
    assert redact("GET /query?function=X&apikey=SECRET123&symbol=A") == "GET /query?function=X&apikey=***&symbol=A"
    assert redact("url: /q?APIKEY=s3cr3t") == "url: /q?APIKEY=***"
