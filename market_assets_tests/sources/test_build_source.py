"""build_source: one entry point, clear errors for unknown kinds and options."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from market_assets.sources import SOURCE_KINDS, build_source, source_options
from market_assets.sources.base import PriceSource


def test_default_kind_is_synthetic() -> None:
    source = build_source()
    assert source.name == "synthetic" and isinstance(source, PriceSource)


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("synthetic", {"seed": 1, "n_symbols": 3}),
        ("bundled", {"symbols": ["AAPL"]}),
        ("stooq", {"symbols": ["AAPL"]}),
        ("alpha_vantage", {"symbols": ["AAPL"]}),
    ],
)
def test_every_kind_builds_a_price_source_named_after_it(
    kind: str, options: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", "x")
    source = build_source(kind, **options)
    assert isinstance(source, PriceSource) and source.name == kind
    assert source.symbols() == sorted(source.symbols())


def test_files_kind(tmp_path: Path) -> None:
    (tmp_path / "AAPL.csv").write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n")
    source = build_source("files", directory=tmp_path)
    assert source.fetch(dt.date(2024, 1, 1), dt.date(2024, 1, 31)).height == 1


def test_unknown_kind_lists_the_valid_ones() -> None:
    with pytest.raises(
        ValueError,
        match=r"unknown price source kind 'yahoo'; valid kinds: "
        r"\['alpha_vantage', 'bundled', 'files', 'stooq', 'synthetic'\]",
    ):
        build_source("yahoo")


def test_unknown_option_lists_the_valid_ones() -> None:
    with pytest.raises(
        ValueError,
        match=r"unknown option\(s\) \['seeed'\] for price source 'synthetic'; valid options: \['calendar', 'defects'",
    ):
        build_source("synthetic", seeed=1)


def test_missing_required_option() -> None:
    with pytest.raises(ValueError, match=r"price source 'files' needs option\(s\) \['directory'\]"):
        build_source("files")


def test_every_kind_documents_defaults() -> None:
    assert set(SOURCE_KINDS) == {"synthetic", "bundled", "files", "stooq", "alpha_vantage"}
    assert source_options("synthetic")["seed"] == 7
    assert source_options("stooq")["base_url"] == "https://stooq.com/q/d/l/"
    assert source_options("alpha_vantage")["api_key_env"] == "ALPHA_VANTAGE_API_KEY"
