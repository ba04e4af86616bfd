"""build_source: one entry point, clear errors for unknown kinds and options."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from market_assets.sources import (
    SOURCE_KINDS,
    SourceKind,
    SourceOptionError,
    build_source,
    check_options,
    configurable_options,
    declared_options,
    source_options,
)
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


def test_each_option_is_declared_once_by_its_class() -> None:
    """The options configuration offers are the classes' ``OPTIONS``, and each names a real constructor option."""
    for kind in SOURCE_KINDS:
        declared = declared_options(kind)
        assert set(declared) <= set(source_options(kind)), kind
    run = configurable_options(per_run=True)
    assert run["n_symbols"][1] == ("synthetic",)
    assert set(run["symbols"][1]) == {"bundled", "files", "stooq", "alpha_vantage"}
    assert set(configurable_options(per_run=False)) == {"base_url", "api_key_env"}


def test_source_kind_enumerates_the_kinds() -> None:
    assert [k.value for k in SourceKind] == list(SOURCE_KINDS)
    assert SourceKind("stooq").value == "stooq"


@pytest.mark.parametrize(
    ("kind", "options", "option", "message"),
    [
        ("synthetic", {"n_symbols": -5}, "n_symbols", r"n_symbols=-5: expected an integer in \[1, 10000\]"),
        ("synthetic", {"start": "not-a-date"}, "start", r"start='not-a-date': expected an ISO date"),
        ("synthetic", {"symbols": ["AAPL"]}, "symbols", r"unknown option\(s\) \['symbols'\] for price source"),
        ("stooq", {}, "symbols", r"price source 'stooq' needs option\(s\) \['symbols'\]"),
        ("stooq", {"symbols": ["AAPL"], "base_url": "ftp://x"}, "base_url", r"base_url='ftp://x': expected an http"),
        ("alpha_vantage", {"symbols": ["AAPL"], "api_key_env": "not a name"}, "api_key_env", "environment variable"),
        ("bundled", {"symbols": ["TSLA"]}, "symbols", r"no bundled history for \['TSLA'\]"),
        ("files", {"directory": ""}, "directory", r"directory='': expected a directory path"),
        ("files", {"directory": "/x", "symbols": "AAPL"}, "symbols", r"symbols='AAPL': expected a list"),
    ],
)
def test_check_options_names_the_option_without_building(kind: str, options: dict, option: str, message: str) -> None:
    with pytest.raises(SourceOptionError, match=message) as info:
        check_options(kind, options)
    assert info.value.option == option


def test_check_options_reads_no_key_and_no_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ALPHA_VANTAGE_API_KEY", raising=False)
    assert check_options("alpha_vantage", {"symbols": ["AAPL"]}) == {"symbols": ["AAPL"]}
    assert check_options("files", {"directory": str(tmp_path / "absent")})  # listed only when built
