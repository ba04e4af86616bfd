"""SourceDeployment: runs refine the deployment's source, never swap it or choose hosts and keys."""

from __future__ import annotations

import pytest

from market_assets.sources.deployment import SourceDeployment
from market_assets.sources.options import SourceOptionError

NAMES = {
    "kind": "MARKET_ASSETS_SOURCE",
    "symbols": "MARKET_ASSETS_SYMBOLS",
    "base_url": "MARKET_ASSETS_SOURCE_BASE_URL",
    "allow_kind_switch": "MARKET_ASSETS_ENV=local",
}
STOOQ = SourceDeployment.of(
    "stooq", symbols=["AAPL"], base_url="https://stooq.example/q/", allow_kind_switch=False, names=NAMES
)


def test_a_run_without_options_gets_the_deployment() -> None:
    assert STOOQ.resolve() == ("stooq", {"symbols": ["AAPL"], "base_url": "https://stooq.example/q/"})


def test_a_run_refines_options_and_keeps_kind_and_host() -> None:
    kind, options = STOOQ.resolve(None, {"symbols": ["MSFT", "IBM"], "seed": None})
    assert (kind, options) == ("stooq", {"symbols": ["MSFT", "IBM"], "base_url": "https://stooq.example/q/"})


def test_options_of_other_kinds_are_ignored() -> None:
    assert STOOQ.resolve(None, {"n_symbols": 5}) == STOOQ.resolve()


def test_switching_kind_is_refused_unless_allowed() -> None:
    with pytest.raises(
        SourceOptionError,
        match=r"kind='synthetic' is refused: the deployment's price source is 'stooq' \(MARKET_ASSETS_SOURCE\) "
        r"and this deployment does not let a run switch kinds \(only MARKET_ASSETS_ENV=local does\); "
        r"leave kind unset or set it to 'stooq'",
    ):
        STOOQ.resolve("synthetic", {})
    assert STOOQ.resolve("stooq", {})[0] == "stooq"  # naming the deployment's own kind is fine


def test_an_allowing_deployment_switches_with_its_options_for_that_kind() -> None:
    deployment = SourceDeployment(
        kind="synthetic",
        options={"synthetic": {"defects": 0.001}, "alpha_vantage": {"api_key_env": "DEPLOYMENT_AV_KEY"}},
        allow_kind_switch=True,
    )
    kind, options = deployment.resolve("alpha_vantage", {"symbols": ["AAPL"]})
    assert (kind, options) == ("alpha_vantage", {"api_key_env": "DEPLOYMENT_AV_KEY", "symbols": ["AAPL"]})


@pytest.mark.parametrize("option", ["base_url", "api_key_env"])
def test_a_run_never_chooses_hosts_or_key_variables(option: str) -> None:
    with pytest.raises(SourceOptionError, match=rf"{option} is decided by the deployment.*never by a run") as info:
        STOOQ.resolve(None, {option: "http://attacker.example/" if option == "base_url" else "DAGSTER_PG_PASSWORD"})
    assert info.value.option == option


def test_run_values_are_checked() -> None:
    with pytest.raises(SourceOptionError, match=r"invalid symbol 'aapl'"):
        STOOQ.resolve(None, {"symbols": ["aapl"]})


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"kind": "synthetic", "options": {"synthetic": {"symbols": ["AAPL", "MSFT"]}}},
            r"MARKET_ASSETS_SYMBOLS=\['AAPL', 'MSFT'\] does not apply to price source 'synthetic' "
            r"\(MARKET_ASSETS_SOURCE\): it takes no 'symbols' option; unset MARKET_ASSETS_SYMBOLS, or choose "
            r"a source that takes it: \['alpha_vantage', 'bundled', 'files', 'stooq'\]",
        ),
        ({"kind": "stooq"}, r"price source 'stooq' \(MARKET_ASSETS_SOURCE\) needs 'symbols': set MARKET_ASSETS_SYMBOLS"),
        ({"kind": "yahoo"}, r"MARKET_ASSETS_SOURCE='yahoo': expected a price source kind, one of \['alpha_vantage'"),
        (
            {"kind": "stooq", "options": {"stooq": {"symbols": ["AAPL"], "base_url": "ftp://x"}}},
            r"MARKET_ASSETS_SOURCE_BASE_URL: base_url='ftp://x': expected an http:// or https:// URL with a host",
        ),
        (
            {"kind": "synthetic", "options": {"synthetic": {"n_symbols": 0}}},
            r"price source 'synthetic' \(MARKET_ASSETS_SOURCE\): n_symbols=0: expected an integer in \[1, 10000\]",
        ),
    ],
)
def test_a_bad_deployment_fails_naming_its_setting(arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SourceDeployment(**arguments, names=NAMES)


def test_repr_hides_url_passwords() -> None:
    deployment = SourceDeployment.of("stooq", symbols=["AAPL"], base_url="https://user:s3cretpw@stooq.example/")
    assert "s3cretpw" not in repr(deployment) and "user:***@stooq.example" in repr(deployment)


def test_build_gives_the_resolved_source() -> None:
    source = SourceDeployment.of("synthetic", n_symbols=3).build(None, {"seed": 1})
    assert source.symbols() == ["SYN000", "SYN001", "SYN002"] and source.config.seed == 1
