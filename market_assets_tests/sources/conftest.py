"""A local HTTP server replaying recorded provider payloads in scripted sequences."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

PAYLOADS = Path(__file__).parent / "payloads"


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a payload file (or literal body), status, headers, delay.

    With ``echo`` the body is a ``str.format`` template of the request's query
    parameters (``{apikey}`` repeats the key the client sent), like a provider
    that quotes the request back in its error messages.
    """

    payload: str | None = None
    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    echo: bool = False

    def content(self, query: dict[str, str]) -> bytes:
        if self.payload:
            return (PAYLOADS / self.payload).read_bytes()
        return (self.body.format(**query) if self.echo else self.body).encode()


class ScriptedServer:
    """Routes ``path`` or ``path#symbol`` to a list of replies, served in order.

    The last reply of a list repeats.  ``requests`` records (path, query dict).
    """

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                reply = server._next(parts.path, query)
                time.sleep(reply.delay)
                data = reply.content(query)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def script(self, route: str, *replies: Reply) -> None:
        self.routes[route] = list(replies)

    def _next(self, path: str, query: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append((path, query))
            symbol = query.get("s") or query.get("symbol") or ""
            key = f"{path}#{symbol}" if f"{path}#{symbol}" in self.routes else path
            replies = self.routes.get(key)
            if not replies:
                return Reply(status=404, body=f"no script for {key}")
            return replies.pop(0) if len(replies) > 1 else replies[0]


@pytest.fixture
def http_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    thread = threading.Thread(target=server.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 at a port nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/query"


class FakeClock:
    """A monotonic clock that only moves when ``sleep`` is called."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
