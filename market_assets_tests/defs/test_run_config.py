"""Run config of ``price_source``: refused where it is wrong, never able to swap the source or send a key.

What Dagster does with each kind of rule (checked here):

* the config schema (an Enum for ``kind``, no field for ``base_url`` or
  ``api_key_env``) is checked before a run is created: the launchpad and
  ``validate_run_config`` refuse it, nothing runs;
* pydantic validators on the resource (ranges, dates, the deployment's rules)
  run when the run initialises its resources: the run is created, fails with
  ``RESOURCE_INIT_FAILURE`` and no step starts.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._serdes import serialize_value
from pydantic import ValidationError

from market_assets.defs.assets.prices import raw_prices
from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.resources import PriceSourceResource
from market_assets.settings import load_settings
from market_assets.sources.deployment import SourceDeployment
from market_assets.sources.http import RetryPolicy
from market_assets_tests.sources.conftest import Reply, ScriptedServer
from market_assets_tests.sources.conftest import http_server as http_server  # the fixture

DAY = "2024-01-03"
EXFILTRATION = {"kind": "alpha_vantage", "base_url": "http://attacker/", "api_key_env": "DAGSTER_PG_PASSWORD"}


def _run_config(config: dict) -> dict:
    return {"resources": {"price_source": {"config": config}}}


def _materialize(root: Path, resource, config: dict | None = None, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [raw_prices],
        resources={"price_source": resource, "parquet_io_manager": PartitionedParquetIOManager(root=str(root))},
        partition_key=DAY,
        run_config=_run_config(config) if config is not None else None,
        **kwargs,
    )


def _start(root: Path, resource, config: dict) -> None:
    """Materialize; if the resource refuses its config, raise what it raised (a ValidationError)."""
    try:
        _materialize(root, resource, config)
    except dg.DagsterResourceFunctionError as error:
        raise error.user_exception from None


@pytest.fixture(scope="module")
def code_location_job() -> dg.JobDefinition:
    from market_assets.definitions import defs

    return defs.resolve_implicit_global_asset_job_def()


@pytest.fixture
def stooq_test_deployment(http_server: ScriptedServer) -> Iterator[SourceDeployment]:
    """The deployment of MARKET_ASSETS_ENV=test, MARKET_ASSETS_SOURCE=stooq, on a local Stooq."""
    http_server.script("/q/d/l/", Reply("stooq_aapl_us.csv"))
    yield load_settings({
        "MARKET_ASSETS_ENV": "test", "MARKET_ASSETS_SOURCE": "stooq", "MARKET_ASSETS_SYMBOLS": "AAPL",
        "MARKET_ASSETS_SOURCE_BASE_URL": http_server.url("/q/d/l/"),
    }).price_source  # fmt: skip


# ---- C: bad values ----------------------------------------------------------------------------


def test_an_unknown_kind_is_refused_by_the_config_schema(code_location_job: dg.JobDefinition, tmp_path: Path) -> None:
    message = r"Value at path root:resources:price_source:config:kind not in enum type SourceKind got yahoo"
    with pytest.raises(dg.DagsterInvalidConfigError, match=message):
        dg.validate_run_config(code_location_job, _run_config({"kind": "yahoo"}))
    with pytest.raises(dg.DagsterInvalidConfigError, match=message):
        _materialize(tmp_path, PriceSourceResource(), {"kind": "yahoo"})


def test_an_unknown_kind_in_code_lists_the_kinds() -> None:
    with pytest.raises(
        ValidationError, match=r"kind\n  Input should be 'synthetic', 'bundled', 'files', 'stooq' or 'alpha_vantage'"
    ):
        PriceSourceResource(kind="yahoo")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"n_symbols": -5}, r"price_source config is refused: n_symbols=-5: expected an integer in \[1, 10000\]"),
        (
            {"start": "not-a-date"},
            r"price_source config is refused: start='not-a-date': expected an ISO date such as '2015-01-02'",
        ),
        ({"end": "2014-01-01"}, r"price_source config is refused: end=2014-01-01: expected a date after start="),
        ({"symbols": ["aapl"]}, None),  # symbols do not apply to the synthetic market: ignored, not refused
    ],
)
def test_ranges_and_dates_pass_the_schema_and_stop_the_run_before_any_step(
    code_location_job: dg.JobDefinition, tmp_path: Path, config: dict, message: str | None
) -> None:
    dg.validate_run_config(code_location_job, _run_config(config))  # the schema has no ranges or dates
    if message is None:
        assert _materialize(tmp_path, PriceSourceResource(n_symbols=3), config).success
        return
    with pytest.raises(ValidationError, match=message):
        _start(tmp_path, PriceSourceResource(), config)
    result = _materialize(tmp_path, PriceSourceResource(), config, raise_on_error=False)
    events = {event.event_type_value: event for event in result.all_events}
    assert "STEP_START" not in events and not result.success
    assert "RESOURCE_INIT_FAILURE" in events  # what the run's page in the UI shows, with the message
    error = events["RESOURCE_INIT_FAILURE"].event_specific_data.error
    assert message.replace("\\", "")[:40] in error.to_string()


def test_the_same_rules_hold_in_code() -> None:
    with pytest.raises(ValidationError, match=r"n_symbols=-5: expected an integer in \[1, 10000\]"):
        PriceSourceResource(n_symbols=-5)
    with pytest.raises(ValidationError, match=r"unknown field\(s\) \['seeed'\]"):
        PriceSourceResource(seeed=1)


# ---- D: run config never chooses hosts or key variables ---------------------------------------


def test_the_exfiltration_config_is_refused_by_the_schema(
    code_location_job: dg.JobDefinition, tmp_path: Path, http_server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "db-password-never-sent")
    message = (
        r"Received unexpected config entries \"\['api_key_env', 'base_url'\]\" at path "
        r"root:resources:price_source:config"
    )
    with pytest.raises(dg.DagsterInvalidConfigError, match=message):
        dg.validate_run_config(code_location_job, _run_config(EXFILTRATION))
    attack = {**EXFILTRATION, "base_url": http_server.url("/steal"), "symbols": ["AAPL"]}
    with pytest.raises(dg.DagsterInvalidConfigError, match=message):
        _materialize(tmp_path, PriceSourceResource.from_deployment(load_settings({}).price_source), attack)
    assert http_server.requests == []  # nothing was sent anywhere


def test_hosts_and_key_variables_cannot_be_given_to_the_resource_in_code() -> None:
    with pytest.raises(
        ValidationError,
        match=r"price_source: \['api_key_env', 'base_url'\] are decided by the deployment "
        r"\(MARKET_ASSETS_ALPHA_VANTAGE_KEY_ENV, MARKET_ASSETS_SOURCE_BASE_URL\), never by resource or run config",
    ):
        PriceSourceResource(**EXFILTRATION)


def test_a_local_run_switching_to_alpha_vantage_gets_the_deployments_host_and_key_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AV_KEY_OF_THE_DEPLOYMENT", "a-key-for-tests")
    deployment = load_settings({"MARKET_ASSETS_ALPHA_VANTAGE_KEY_ENV": "AV_KEY_OF_THE_DEPLOYMENT"}).price_source
    resource = PriceSourceResource(deployment=deployment, kind="alpha_vantage", symbols=["AAPL"])
    source = resource.build()
    assert (source.base_url, source.api_key_env) == ("https://www.alphavantage.co/query", "AV_KEY_OF_THE_DEPLOYMENT")


def test_a_key_echoed_by_the_provider_never_reaches_the_run_log(
    tmp_path: Path, http_server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key = "Run-Log-Secret/42+x"
    monkeypatch.setenv("ECHO_AV_KEY", key)
    http_server.script("/query", Reply(echo=True, body='{{"Error Message": "Invalid API call, key {apikey}"}}'))
    deployment = SourceDeployment.of(
        "alpha_vantage", symbols=["AAPL"], base_url=http_server.url("/query"), api_key_env="ECHO_AV_KEY",
        retry=RetryPolicy(max_retries=0),
    )  # fmt: skip
    instance = dg.DagsterInstance.ephemeral()
    result = _materialize(
        tmp_path, PriceSourceResource.from_deployment(deployment), raise_on_error=False, instance=instance
    )
    assert not result.success and http_server.requests[0][1]["apikey"] == key  # sent, echoed, failed
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "Invalid API call, key ***" in failure.event_specific_data.error.to_string()
    run_log = serialize_value(list(instance.all_logs(result.run_id)))
    assert "Invalid API call, key ***" in run_log
    for form in (key, "Run-Log-Secret%2F42%2Bx"):
        assert form not in run_log and form not in caplog.text


# ---- E: runs refine the deployment's source ---------------------------------------------------


def test_a_run_refining_symbols_keeps_the_deployments_kind_and_host(
    tmp_path: Path, http_server: ScriptedServer, stooq_test_deployment: SourceDeployment
) -> None:
    resource = PriceSourceResource.from_deployment(stooq_test_deployment)
    result = _materialize(tmp_path, resource, {"symbols": ["AAPL"], "n_symbols": 3})
    prices = result.output_for_node("raw_prices")
    assert prices["source"].unique().to_list() == ["stooq"] and prices["symbol"].unique().to_list() == ["AAPL"]
    assert [path for path, _ in http_server.requests] == ["/q/d/l/"]  # the deployment's host, nowhere else


def test_a_run_cannot_switch_the_kind_outside_local(
    tmp_path: Path, http_server: ScriptedServer, stooq_test_deployment: SourceDeployment
) -> None:
    with pytest.raises(
        ValidationError,
        match=r"price_source config is refused: kind='synthetic' is refused: the deployment's price source is "
        r"'stooq' \(MARKET_ASSETS_SOURCE\) and this deployment does not let a run switch kinds \(only "
        r"MARKET_ASSETS_ENV=local does\); leave kind unset or set it to 'stooq'",
    ):
        _start(tmp_path, PriceSourceResource.from_deployment(stooq_test_deployment), {"kind": "synthetic"})
    assert http_server.requests == []


def test_a_local_run_may_switch_the_kind(tmp_path: Path) -> None:
    environ = {"MARKET_ASSETS_ENV": "local", "MARKET_ASSETS_SOURCE": "stooq", "MARKET_ASSETS_SYMBOLS": "AAPL"}
    resource = PriceSourceResource.from_deployment(load_settings(environ).price_source)
    prices = _materialize(tmp_path, resource, {"kind": "synthetic", "n_symbols": 3}).output_for_node("raw_prices")
    assert prices["source"].unique().to_list() == ["synthetic"] and prices["symbol"].n_unique() == 3


def test_the_launchpad_shows_the_deployments_values_as_defaults(stooq_test_deployment: SourceDeployment) -> None:
    defs = dg.Definitions(
        assets=[raw_prices],
        resources={
            "price_source": PriceSourceResource.from_deployment(stooq_test_deployment),
            "parquet_io_manager": PartitionedParquetIOManager(root="/unused"),
        },
    )
    job = defs.resolve_implicit_global_asset_job_def()
    field = job.run_config_schema.config_type.fields["resources"].config_type.fields["price_source"]
    default = field.config_type.fields["config"].default_value
    assert default["kind"] == "stooq" and default["symbols"] == ["AAPL"]
    assert "base_url" not in default and "deployment" not in default


def test_code_may_still_configure_a_source_directly(tmp_path: Path) -> None:
    """Code (not run config) without a deployment: the arguments describe the source, as before."""
    (tmp_path / "ACME.csv").write_text("Date,Open,High,Low,Close,Volume\n2024-01-03,1,2,0.5,1.5,10\n")
    source = PriceSourceResource(kind="files", directory=str(tmp_path), n_symbols=20).build()
    assert source.name == "files" and source.symbols() == ["ACME"]


def test_a_refusal_message_holds_no_traceback_noise() -> None:
    with pytest.raises(ValidationError) as info:
        PriceSourceResource(n_symbols=-5)
    text = "".join(traceback.format_exception_only(info.value))
    assert text.count("price_source config is refused") == 1


def test_a_field_holding_a_secret_variable_is_refused_without_showing_it(monkeypatch):
    from market_assets.defs.resources import PriceSourceResource, SecretInConfigError

    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "hunter2-very-secret")
    with pytest.raises(SecretInConfigError, match="field 'calendar' holds the value of the environment variable "
                       "DAGSTER_PG_PASSWORD") as raised:
        PriceSourceResource(kind="synthetic", calendar="hunter2-very-secret")
    assert "hunter2" not in str(raised.value)
