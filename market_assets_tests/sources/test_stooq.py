"""Stooq CSV over HTTP, against recorded payloads on a local server."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from market_assets.schema import PRICE_SCHEMA, InvalidSymbolError
from market_assets.sources.base import SourceError
from market_assets.sources.http import RetryPolicy
from market_assets.sources.stooq import StooqSource

from .conftest import FakeClock, Reply, ScriptedServer

JAN = (dt.date(2024, 1, 1), dt.date(2024, 1, 31))


def _source(
    server: ScriptedServer, clock: FakeClock, symbols: list[str], backoff: float = 1.0, **options: object
) -> StooqSource:
    return StooqSource(
        symbols=symbols,
        base_url=server.url("/q/d/l/"),
        retry=RetryPolicy(min_interval=0.0, jitter=0.0, backoff=backoff),
        sleep=clock.sleep,
        clock=clock,
        **options,  # type: ignore[arg-type]
    )


def test_fetch_two_symbols_with_the_documented_query(http_server: ScriptedServer, fake_clock: FakeClock) -> None:
    http_server.script("/q/d/l/#aapl.us", Reply("stooq_aapl_us.csv"))
    http_server.script("/q/d/l/#msft.us", Reply("stooq_msft_us.csv"))
    frame = _source(http_server, fake_clock, ["MSFT", "AAPL"]).fetch(dt.date(2024, 1, 3), dt.date(2024, 1, 5))
    assert frame.schema == pl.Schema(PRICE_SCHEMA)
    assert (frame["source"] == "stooq").all()
    assert frame.select("date", "symbol").rows()[:2] == [(dt.date(2024, 1, 3), "AAPL"), (dt.date(2024, 1, 3), "MSFT")]
    assert frame.height == 6
    assert frame["adj_close"].to_list() == frame["close"].to_list()
    assert http_server.requests[0] == ("/q/d/l/", {"s": "aapl.us", "i": "d", "d1": "20240103", "d2": "20240105"})


def test_suffix_and_symbol_map_shape_the_ticker(http_server: ScriptedServer, fake_clock: FakeClock) -> None:
    http_server.script("/q/d/l/", Reply("stooq_aapl_us.csv"))
    source = _source(http_server, fake_clock, ["AAPL", "^GSPC"], suffix=".uk", symbol_map={"^GSPC": "^spx"})
    assert (source.stooq_ticker("AAPL"), source.stooq_ticker("^GSPC")) == ("aapl.uk", "^spx")
    source.fetch(*JAN)
    assert [q["s"] for _, q in http_server.requests] == ["aapl.uk", "^spx"]


def test_no_data_names_the_symbol(http_server: ScriptedServer, fake_clock: FakeClock) -> None:
    http_server.script("/q/d/l/", Reply("stooq_no_data.txt"))
    with pytest.raises(SourceError, match=r"stooq: no data for symbol 'ZZZZ' \(Stooq ticker 'zzzz.us'\)"):
        _source(http_server, fake_clock, ["ZZZZ"]).fetch(*JAN)
    assert len(http_server.requests) == 1  # not retried


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("stooq_malformed.csv", r"stooq: AAPL \(aapl.us\): malformed CSV .*payload starts 'Date,Open"),
        ("stooq_html_error.html", r"missing column 'date' .*payload starts '<html><head><title>Service Unavailable"),
    ],
)
def test_malformed_csv_names_provider_symbol_and_excerpt(
    http_server: ScriptedServer, fake_clock: FakeClock, payload: str, message: str
) -> None:
    http_server.script("/q/d/l/", Reply(payload))
    with pytest.raises(SourceError, match=message):
        _source(http_server, fake_clock, ["AAPL"]).fetch(*JAN)


def test_server_errors_are_retried(http_server: ScriptedServer, fake_clock: FakeClock) -> None:
    http_server.script(
        "/q/d/l/", Reply(status=500), Reply(status=429, headers={"Retry-After": "3"}), Reply("stooq_aapl_us.csv")
    )
    frame = _source(http_server, fake_clock, ["AAPL"], backoff=2.0).fetch(*JAN)
    assert frame.height == 5
    assert fake_clock.sleeps == [2.0, 3.0]


def test_symbols_are_validated_at_construction() -> None:
    with pytest.raises(InvalidSymbolError):
        StooqSource(symbols=["AAPL&s=evil"])
    with pytest.raises(InvalidSymbolError):
        StooqSource(symbols=["AAPL"], symbol_map={"AAPL": "aapl.us&x=1"})
