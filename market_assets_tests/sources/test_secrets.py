"""A provider key never reaches a message or a log line, whatever the provider echoes back."""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from urllib.parse import quote, quote_plus

import pytest

from market_assets.sources.alpha_vantage import AlphaVantageSource
from market_assets.sources.base import SourceError
from market_assets.sources.http import RedactingFilter, RetryPolicy, redact, register_secret

from .conftest import FakeClock, Reply, ScriptedServer

# '+' and '/' make the URL-encoded forms differ from the raw key.
KEY = "Sekr3t+Key/Do-Not-Leak"
FORMS = (KEY, quote_plus(KEY), quote(KEY, safe=""))
JAN = (dt.date(2024, 1, 1), dt.date(2024, 1, 31))


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_PROVIDER_KEY", KEY)


def _leaked(text: str) -> list[str]:
    return [form for form in FORMS if form in text]


def _source(server: ScriptedServer, clock: FakeClock) -> AlphaVantageSource:
    return AlphaVantageSource(
        symbols=["AAPL"],
        base_url=server.url("/query"),
        api_key_env="ECHO_PROVIDER_KEY",
        retry=RetryPolicy(min_interval=0.0, backoff=1.0, jitter=0.0, max_retries=1),
        sleep=clock.sleep,
        clock=clock,
    )


@pytest.mark.parametrize(
    ("reply", "shown"),
    [
        pytest.param(
            Reply(echo=True, body='{{"Error Message": "Invalid API call: key {apikey} is not valid"}}'),
            r"Invalid API call: key \*\*\* is not valid",
            id="json-error-message",
        ),
        pytest.param(
            Reply(echo=True, body='{{"Information": "key={apikey} reached the daily limit"}}'),
            r"throttled \(Information: key=\*\*\* reached the daily limit\)",
            id="json-throttle-key=",
        ),
        pytest.param(Reply(echo=True, status=403, body="forbidden: {apikey}"), r"body: 'forbidden: \*\*\*'", id="text-403"),
        pytest.param(Reply(echo=True, body="{apikey}"), r"malformed JSON .*payload starts '\*\*\*'", id="text-200"),
        pytest.param(Reply(echo=True, status=500, body="upstream failed for {apikey}"), r"HTTP 500", id="text-500"),
        pytest.param(
            Reply(echo=True, body='{{"Error Message": "bad token {apikey}", "request": "apikey={apikey}"}}'),
            r"bad token \*\*\*",
            id="json-twice",
        ),
    ],
)
def test_an_echoed_key_is_redacted_from_errors_and_logs(
    http_server: ScriptedServer, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture, reply: Reply, shown: str
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours and urllib3's request lines
    http_server.script("/query", reply)
    with pytest.raises(SourceError, match=shown) as info:
        _source(http_server, fake_clock).fetch(*JAN)
    assert all(query["apikey"] == KEY for _, query in http_server.requests)  # the key was really sent and echoed
    assert _leaked("".join(traceback.format_exception(info.value))) == []
    assert _leaked(caplog.text) == []
    assert all(_leaked(record.getMessage()) == [] for record in caplog.records)


def test_redact_replaces_registered_values_in_every_form() -> None:
    secret = "an0ther-Key/with+signs"
    assert redact(f"token {secret}") == f"token {secret}"  # not registered yet: left alone
    register_secret(secret)
    text = f"raw {secret}, {quote_plus(secret)} and {quote(secret, safe='')} in a url?apikey=whatever&x=1"
    assert redact(text) == "raw ***, *** and *** in a url?apikey=***&x=1"


def test_short_values_are_not_replaced_literally() -> None:
    register_secret("x")  # a placeholder key would otherwise blank out every 'x'
    assert redact("next") == "next"


def test_the_filter_redacts_messages_arguments_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    register_secret(KEY)
    log = logging.getLogger("market_assets.sources")
    assert any(isinstance(f, RedactingFilter) for f in log.filters)
    with caplog.at_level(logging.DEBUG, logger="market_assets.sources"):
        log.info("key in the message %s", KEY)
        try:
            raise RuntimeError(f"failed with {KEY}")
        except RuntimeError:
            log.exception("request failed")
    assert "key in the message ***" in caplog.text and "RuntimeError: failed with ***" in caplog.text
    assert _leaked(caplog.text) == []
