"""Settings that do what they say: environments, local-store refusals, source deployment, caches."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from market_assets.settings import LOCAL_MLFLOW_UI, REPO_ROOT, load_settings

PRODUCTION = {
    "MARKET_ASSETS_ENV": "production",
    "MARKET_ASSETS_DATA_ROOT": "s3://market-data/prices",
    "MARKET_ASSETS_MLFLOW_URI": "postgresql+psycopg2://mlflow:pw@db.internal/mlflow",
    "MARKET_ASSETS_OPTUNA_URL": "postgresql+psycopg2://optuna:pw@db.internal/optuna",
}


def test_defaults_are_a_local_deployment_of_the_synthetic_market() -> None:
    settings = load_settings({"HOME": "/home/u"})
    assert settings.environment == "local"
    assert settings.mlflow_tracking_uri.startswith("sqlite:///") and settings.mlflow_ui_url == LOCAL_MLFLOW_UI
    deployment = settings.price_source
    assert deployment.kind == "synthetic" and deployment.allow_kind_switch
    assert dict(deployment.options["synthetic"]) == {
        "calendar": "XNYS", "defects": 0.001, "signal_strength": 0.1,
        "regime_shift_date": "2017-11-04",  # demo_regime_shift(2016-01-04): ~22 months after the start
    }
    assert dict(deployment.options["alpha_vantage"]) == {"api_key_env": "ALPHA_VANTAGE_API_KEY"}
    assert settings.variables_set == frozenset()


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ValueError, match=r"MARKET_ASSETS_ENV='prod': expected one of \['local', 'test', 'production'\]"):
        load_settings({"MARKET_ASSETS_ENV": "prod"})


def test_a_complete_production_configuration_loads() -> None:
    settings = load_settings(PRODUCTION)
    assert settings.environment == "production" and not settings.price_source.allow_kind_switch
    assert settings.mlflow_ui_url is None  # no local UI to link to; a tracking server is its own
    assert {"MARKET_ASSETS_MLFLOW_URI", "MARKET_ASSETS_OPTUNA_URL"} <= settings.variables_set


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MARKET_ASSETS_MLFLOW_URI", None,
         r"MARKET_ASSETS_MLFLOW_URI='sqlite:///.*mlflow.db' \(the default\) is local to this machine, and "
         r"MARKET_ASSETS_ENV=production refuses local stores: every run worker must reach the same one; "
         r"expected an MLflow server \(https://mlflow.example\) or a database \(postgresql\+psycopg2://…\)"),
        ("MARKET_ASSETS_MLFLOW_URI", "sqlite:////srv/mlflow.db",
         r"MARKET_ASSETS_MLFLOW_URI='sqlite:////srv/mlflow.db' is local to this machine"),
        ("MARKET_ASSETS_MLFLOW_URI", "file:///srv/mlruns", r"MARKET_ASSETS_MLFLOW_URI='file:///srv/mlruns' is local"),
        ("MARKET_ASSETS_OPTUNA_URL", "sqlite:///optuna.db",
         r"MARKET_ASSETS_OPTUNA_URL='sqlite:///optuna.db' is local .*expected a database URL"),
        ("MARKET_ASSETS_DATA_ROOT", "/data",
         r"MARKET_ASSETS_DATA_ROOT='/data' is local .*expected an object-store URL such as s3://bucket/prefix"),
        ("MARKET_ASSETS_DATA_ROOT", None, r"MARKET_ASSETS_DATA_ROOT='.*var/data' \(the default\) is local"),
        ("MARKET_ASSETS_DATA_ROOT", "file:///data", r"MARKET_ASSETS_DATA_ROOT='file:///data' is local"),
        ("MARKET_ASSETS_DATA_ROOT", "memory://prices", r"MARKET_ASSETS_DATA_ROOT='memory://prices' is local"),
    ],
)  # fmt: skip
def test_production_refuses_local_stores(variable: str, value: str | None, message: str) -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != variable}
    if value is not None:
        environ[variable] = value
    with pytest.raises(ValueError, match=message):
        load_settings(environ)


def test_production_refuses_a_plain_http_endpoint() -> None:
    environ = {**PRODUCTION, "MARKET_ASSETS_SOURCE": "stooq", "MARKET_ASSETS_SYMBOLS": "AAPL",
               "MARKET_ASSETS_SOURCE_BASE_URL": "http://stooq.example/q/d/l/"}  # fmt: skip
    with pytest.raises(ValueError, match=r"MARKET_ASSETS_SOURCE_BASE_URL='http://stooq.example/q/d/l/': .*https"):
        load_settings(environ)
    assert load_settings({**environ, "MARKET_ASSETS_SOURCE_BASE_URL": "https://stooq.example/q/d/l/"})


def test_refusals_hide_url_passwords() -> None:
    environ = {**PRODUCTION, "MARKET_ASSETS_OPTUNA_URL": "sqlite://user:hunter2pw@/optuna.db"}
    with pytest.raises(ValueError) as info:
        load_settings(environ)
    assert "hunter2pw" not in str(info.value)


@pytest.mark.parametrize("environment", ["local", "test"])
def test_local_and_test_allow_local_stores(environment: str) -> None:
    settings = load_settings({"MARKET_ASSETS_ENV": environment, "MARKET_ASSETS_DATA_ROOT": "/tmp/data"})
    assert settings.data_root == "/tmp/data" and settings.optuna_storage.startswith("sqlite:///")


@pytest.mark.parametrize(("environment", "switch"), [("local", True), ("test", False), ("production", False)])
def test_only_local_lets_a_run_switch_the_source_kind(environment: str, switch: bool) -> None:
    environ = {**PRODUCTION, "MARKET_ASSETS_ENV": environment}
    assert load_settings(environ).price_source.allow_kind_switch is switch


def test_symbols_with_the_synthetic_source_name_the_variable() -> None:
    with pytest.raises(
        ValueError,
        match=r"MARKET_ASSETS_SYMBOLS=\['AAPL', 'MSFT'\] does not apply to price source 'synthetic' "
        r"\(MARKET_ASSETS_SOURCE\): it takes no 'symbols' option; unset MARKET_ASSETS_SYMBOLS, or choose a "
        r"source that takes it",
    ):
        load_settings({"MARKET_ASSETS_SYMBOLS": "AAPL, MSFT"})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MARKET_ASSETS_SOURCE": "stooq"}, r"price source 'stooq' \(MARKET_ASSETS_SOURCE\) needs 'symbols': "
         r"set MARKET_ASSETS_SYMBOLS"),
        ({"MARKET_ASSETS_SOURCE": "yahoo"}, r"MARKET_ASSETS_SOURCE='yahoo': expected a price source kind"),
        ({"MARKET_ASSETS_SOURCE": "files"}, r"needs 'directory': set MARKET_ASSETS_SOURCE_DIRECTORY"),
        ({"MARKET_ASSETS_SOURCE_BASE_URL": "https://x.example/"},
         r"MARKET_ASSETS_SOURCE_BASE_URL='https://x.example/' does not apply to price source 'synthetic'"),
        ({"MARKET_ASSETS_SOURCE": "stooq", "MARKET_ASSETS_SYMBOLS": "AAPL", "MARKET_ASSETS_SOURCE_BASE_URL": "x"},
         r"MARKET_ASSETS_SOURCE_BASE_URL: base_url='x': expected an http:// or https:// URL"),
        ({"MARKET_ASSETS_ALPHA_VANTAGE_KEY_ENV": "my key"},
         r"MARKET_ASSETS_ALPHA_VANTAGE_KEY_ENV: api_key_env='my key': expected an environment variable name"),
        ({"MARKET_ASSETS_SOURCE": "bundled", "MARKET_ASSETS_SYMBOLS": "TSLA"},
         r"MARKET_ASSETS_SYMBOLS: bundled source: no bundled history for \['TSLA'\]"),
    ],
)  # fmt: skip
def test_source_settings_fail_naming_their_variable(environ: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_settings(environ)


def test_source_settings_reach_the_deployment() -> None:
    settings = load_settings({
        "MARKET_ASSETS_SOURCE": "alpha_vantage", "MARKET_ASSETS_SYMBOLS": "AAPL,MSFT",
        "MARKET_ASSETS_SOURCE_BASE_URL": "https://av.internal/query",
        "MARKET_ASSETS_ALPHA_VANTAGE_KEY_ENV": "AV_KEY_FOR_PROD",
    })  # fmt: skip
    assert settings.price_source.resolve() == (
        "alpha_vantage",
        {"api_key_env": "AV_KEY_FOR_PROD", "symbols": ["AAPL", "MSFT"], "base_url": "https://av.internal/query"},
    )


@pytest.mark.parametrize(
    ("value", "expected"), [("https://mlflow.internal/", "https://mlflow.internal/"), ("", None), ("  ", None)]
)
def test_mlflow_ui_url_is_a_setting(value: str, expected: str | None) -> None:
    assert load_settings({"MARKET_ASSETS_MLFLOW_UI_URL": value}).mlflow_ui_url == expected


def test_a_bad_mlflow_ui_url_names_the_variable() -> None:
    with pytest.raises(ValueError, match=r"MARKET_ASSETS_MLFLOW_UI_URL='mlflow:5000': expected an http"):
        load_settings({"MARKET_ASSETS_MLFLOW_UI_URL": "mlflow:5000"})


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"MARKET_ASSETS_CACHE_DIR": "/srv/cache", "DAGSTER_HOME": "/dh"}, "/srv/cache"),
        ({"DAGSTER_HOME": "/dh", "XDG_CACHE_HOME": "/xdg"}, "/dh/market_assets_cache"),
        ({"XDG_CACHE_HOME": "/xdg"}, "/xdg/market_assets"),
    ],
)
def test_cache_dir_is_never_inside_the_package(environ: dict, expected: str) -> None:
    cache = load_settings(environ).cache_dir
    assert cache == Path(expected)
    assert not cache.resolve().is_relative_to(REPO_ROOT / "market_assets")


def test_without_any_hint_the_cache_is_the_users(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_settings({}).cache_dir == tmp_path / ".cache" / "market_assets"


def test_calendar_facts_are_cached_under_the_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from market_assets import calendars

    monkeypatch.setenv("MARKET_ASSETS_CACHE_DIR", str(tmp_path))
    start = dt.date(2016, 1, 5)  # not the partitions' start: nothing cached in this process yet
    calendars._calendar_facts.cache_clear()
    try:
        timezone = calendars.calendar_timezone("XNYS", start)
    finally:
        calendars._calendar_facts.cache_clear()
    files = list((tmp_path / "calendars").glob("XNYS-2016-01-05-*.json"))
    assert timezone == "America/New_York" and len(files) == 1
    assert json.loads(files[0].read_text())["timezone"] == "America/New_York"
    beside_the_code = [REPO_ROOT / "var", REPO_ROOT / "market_assets"]  # the old cache lived in var/cache
    assert not [p for base in beside_the_code for p in base.glob("**/calendars/XNYS-2016-01-05-*.json")]


def test_the_readme_and_the_settings_document_the_same_variables() -> None:
    import re

    import market_assets.settings as module
    from market_assets.defs.executors import BACKEND_VARIABLE, BROKER_VARIABLE
    from market_assets.settings import REPO_ROOT, VARIABLES

    readme = (REPO_ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n\n")[2]  # the variables table
    in_readme = re.findall(r"^\| `(MARKET_ASSETS_[A-Z_]+)` \|", table, flags=re.MULTILINE)
    in_docstring = re.findall(r"^``(MARKET_ASSETS_[A-Z_]+)`` +[`(]", module.__doc__, flags=re.MULTILINE)  # table rows
    assert sorted(in_readme) == sorted(in_docstring) == sorted(VARIABLES)
    assert {BROKER_VARIABLE, BACKEND_VARIABLE} <= set(VARIABLES)  # read by the executor, documented here
