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


# ---- transport faults: bodies cut short, corrupt encodings, resets mid-body ----------------


class FaultServer:
    """A raw-socket HTTP server answering each request with the next scripted fault.

    Each script entry is ``(head, body, ending)``: ``head`` the status line and
    headers, ``body`` the bytes actually sent, ``ending`` ``"close"`` (a clean
    FIN, e.g. after a body shorter than its Content-Length) or ``"reset"`` (RST).
    The last entry repeats.  ``requests`` counts the requests answered.
    """

    def __init__(self, *script: tuple[bytes, bytes, str]) -> None:
        import socket

        self.script, self.requests = list(script), 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = False
        import threading

        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import socket
        import struct

        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                except OSError:
                    continue
                head, body, ending = self.script.pop(0) if len(self.script) > 1 else self.script[0]
                self.requests += 1
                conn.sendall(head + b"\r\n" + body)
                if ending == "reset":  # SO_LINGER 0: close sends RST instead of FIN
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def close(self) -> None:
        self._stop = True
        self.thread.join(timeout=2)
        self.sock.close()


def _head(length: int, *extra: str) -> bytes:
    # Connection: close: the server closes after each answer, so the client must not reuse the socket
    # for its retry (a reused, already closed socket made the retry race the close).
    return ("HTTP/1.1 200 OK\r\nConnection: close\r\n" + "".join(f"{h}\r\n" for h in extra)
            + f"Content-Length: {length}\r\n").encode()


CSV = b"Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,1000\n"
TRUNCATED = (_head(len(CSV) + 500), CSV[:20], "close")  # announces 500 bytes more than it sends
GOOD = (_head(len(CSV)), CSV, "close")
BAD_GZIP = (_head(12, "Content-Encoding: gzip"), b"not gzip!!!!", "close")
RESET = (_head(len(CSV) + 500), CSV[:20], "reset")


@pytest.fixture
def fault_server():
    servers: list[FaultServer] = []

    def make(*script: tuple[bytes, bytes, str]) -> FaultServer:
        servers.append(FaultServer(*script))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


@pytest.mark.parametrize("fault", [TRUNCATED, BAD_GZIP, RESET], ids=["truncated", "bad-gzip", "reset-mid-body"])
def test_a_body_cut_short_or_corrupt_is_retried(fault_server, fake_clock: FakeClock, fault) -> None:
    server = fault_server(fault, GOOD)
    assert _client(fake_clock).get(server.base + "/x", {}, symbol="AAPL", parse=str) == CSV.decode()
    assert server.requests == 2 and fake_clock.sleeps == [1.0]


def test_a_body_always_cut_short_names_provider_symbol_and_redacted_url(fault_server, fake_clock: FakeClock) -> None:
    server = fault_server(TRUNCATED)
    client = _client(fake_clock, max_retries=2)
    with pytest.raises(SourceError) as info:
        client.get(server.base + "/q", {"apikey": "S3CRET-KEY-123", "s": "aapl.us"}, symbol="AAPL", parse=str)
    message = str(info.value)
    assert message.startswith("test: no data for 'AAPL' after 3 attempts; last failure: truncated or undecodable body")
    assert "ChunkedEncodingError" in message and "IncompleteRead" in message
    assert f"(GET {server.base}/q?apikey=***&s=aapl.us)" in message
    assert "S3CRET-KEY-123" not in message
    assert server.requests == 3


def test_a_provider_reports_a_truncated_download_with_its_symbol(fault_server, fake_clock: FakeClock) -> None:
    import datetime as dt

    server = fault_server(TRUNCATED)
    source = StooqSource(symbols=["MSFT"], base_url=server.base + "/q/d/l/",
                         retry=RetryPolicy(max_retries=1, backoff=0.0, jitter=0.0), sleep=fake_clock.sleep,
                         clock=fake_clock)
    with pytest.raises(SourceError, match=r"^stooq: no data for 'MSFT' after 2 attempts; last failure: truncated"):
        source.fetch(dt.date(2024, 1, 2), dt.date(2024, 1, 5))
