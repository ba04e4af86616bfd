"""Alpha Vantage JSON over HTTP: payload kinds, throttling, and the API key kept secret."""

from __future__ import annotations

import datetime as dt
import logging
import traceback

import polars as pl
import pytest

from market_assets.schema import PRICE_SCHEMA
from market_assets.sources.alpha_vantage import AlphaVantageSource
from market_assets.sources.base import SourceError
from market_assets.sources.http import RetryPolicy

from .conftest import FakeClock, Reply, ScriptedServer

KEY = "Sekr3tKey-DoNotLeak"
JAN = (dt.date(2024, 1, 1), dt.date(2024, 1, 31))


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", KEY)


FAST = RetryPolicy(min_interval=0.0, backoff=1.0, jitter=0.0, max_retries=2)


def _source(url: str, clock: FakeClock, **options: object) -> AlphaVantageSource:
    defaults = {"symbols": ["AAPL"], "retry": FAST}
    return AlphaVantageSource(base_url=url, sleep=clock.sleep, clock=clock, **{**defaults, **options})  # type: ignore[arg-type]


def test_daily_adjusted_payload(http_server: ScriptedServer, fake_clock: FakeClock) -> None:
    http_server.script("/query", Reply("av_aapl_daily_adjusted.json"))
    frame = _source(http_server.url("/query"), fake_clock).fetch(dt.date(2024, 1, 3), dt.date(2024, 1, 8))
    assert frame.schema == pl.Schema(PRICE_SCHEMA)
    assert (frame["source"] == "alpha_vantage").all()
    assert frame["date"].to_list() == [dt.date(2024, 1, d) for d in (3, 4, 5, 8)]  # sorted, range applied
    assert frame.row(0, named=True) | {"source": None} == {
        "date": dt.date(2024, 1, 3),
        "symbol": "AAPL",
        "open": 184.22,
        "high": 185.88,
        "low": 183.43,
        "close": 184.25,
        "adj_close": 183.3415,
        "volume": 58414460.0,
        "source": None,
    }
    path, query = http_server.requests[0]
    assert query == {
        "function": "TIME_SERIES_DAILY_ADJUSTED",
        "symbol": "AAPL",
        "outputsize": "full",
        "datatype": "json",
        "apikey": KEY,
    }


@pytest.mark.parametrize("throttle", ["av_note.json", "av_information.json"])
def test_throttle_is_retried_after_backoff(http_server: ScriptedServer, fake_clock: FakeClock, throttle: str) -> None:
    http_server.script("/query", Reply(throttle), Reply("av_aapl_daily_adjusted.json"))
    frame = _source(http_server.url("/query"), fake_clock).fetch(*JAN)
    assert frame.height == 5
    assert fake_clock.sleeps == [1.0]


def test_persistent_throttle_becomes_a_source_error(http_server: ScriptedServer, fake_clock: FakeClock) -> None:
    http_server.script("/query", Reply("av_note.json"))
    with pytest.raises(
        SourceError,
        match=r"alpha_vantage: no data for 'AAPL' after 3 attempts; last failure: throttled \(Note: Thank you",
    ):
        _source(http_server.url("/query"), fake_clock).fetch(*JAN)
    assert fake_clock.sleeps == [1.0, 2.0]


def test_error_message_names_the_symbol_and_is_not_retried(http_server: ScriptedServer, fake_clock: FakeClock) -> None:
    http_server.script("/query", Reply("av_error_message.json"))
    with pytest.raises(SourceError, match=r"Alpha Vantage rejected symbol 'ZZZZ': Invalid API call"):
        _source(http_server.url("/query"), fake_clock, symbols=["ZZZZ"]).fetch(*JAN)
    assert len(http_server.requests) == 1


def test_malformed_json_names_provider_symbol_and_excerpt(http_server: ScriptedServer, fake_clock: FakeClock) -> None:
    http_server.script("/query", Reply("av_malformed.json"))
    with pytest.raises(SourceError, match=r"alpha_vantage: AAPL: malformed JSON .*payload starts '\{ \"Meta Data\""):
        _source(http_server.url("/query"), fake_clock).fetch(*JAN)


def test_unexpected_object_lists_the_keys(http_server: ScriptedServer, fake_clock: FakeClock) -> None:
    http_server.script("/query", Reply(body='{"Meta Data": {}}'))
    with pytest.raises(SourceError, match=r"no 'Time Series \(Daily\)' object; keys found \['Meta Data'\]"):
        _source(http_server.url("/query"), fake_clock).fetch(*JAN)


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_AV_KEY", raising=False)
    with pytest.raises(ValueError, match="environment variable MY_AV_KEY is not set"):
        AlphaVantageSource(symbols=["AAPL"], api_key_env="MY_AV_KEY")


def test_api_key_never_appears_in_repr_logs_or_errors(
    http_server: ScriptedServer, fake_clock: FakeClock, closed_port_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's URL lines included
    failures: list[BaseException] = []
    http_server.script("/query", Reply(status=500), Reply("av_note.json"))
    http_server.script("/bad", Reply(status=403, body=f"forbidden for apikey={KEY}"))
    for url in (http_server.url("/query"), closed_port_url, http_server.url("/bad")):
        source = _source(url, fake_clock)
        assert KEY not in repr(source) and KEY not in repr(source.client)
        with pytest.raises(SourceError) as info:
            source.fetch(*JAN)
        failures.append(info.value)
    assert any("apikey=***" in r.getMessage() for r in caplog.records)
    assert KEY not in caplog.text
    for exc in failures:
        assert KEY not in "".join(traceback.format_exception(exc))
    assert all(q["apikey"] == KEY for _, q in http_server.requests)  # the key was really sent
