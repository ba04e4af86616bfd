"""The Dagster webserver serves the code location: assets and their checks are listed."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from market_assets.settings import REPO_ROOT

pytestmark = pytest.mark.slow

QUERY = """
{ assetNodes { assetKey { path } description assetChecksOrError {
    ... on AssetChecks { checks { name blocking } } } } }
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, data: bytes | None = None) -> dict:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("webserver")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-webserver"), "-w", "workspace.yaml",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"dagster-webserver exited: {process.stderr.read().decode()[-2000:]}")
            try:
                _get(f"{url}/server_info")
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("dagster-webserver did not answer /server_info within 90 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _asset_nodes(webserver: str) -> list[dict]:
    deadline = time.monotonic() + 60
    while True:  # the code location loads in the background after the server starts
        nodes = _get(f"{webserver}/graphql", json.dumps({"query": QUERY}).encode())["data"]["assetNodes"]
        if nodes or time.monotonic() > deadline:
            return nodes
        time.sleep(1)


def test_the_ui_lists_the_assets_with_their_checks(webserver):
    nodes = _asset_nodes(webserver)
    by_name = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    assert {"raw_prices", "validated_prices", "price_rejections", "feature_table", "labels",
            "trained_model", "predictions"} <= set(by_name)
    checks = {c["name"]: c["blocking"] for c in by_name["validated_prices"]["assetChecksOrError"]["checks"]}
    assert checks["ohlc_is_consistent"] is True and "sessions_are_complete" in checks
    assert all(n["description"] for n in nodes)


EXFILTRATION = {"kind": "alpha_vantage", "base_url": "http://attacker/", "api_key_env": "DAGSTER_PG_PASSWORD"}
LAUNCH = """
mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on RunConfigValidationInvalid { errors { message } } ... on PythonError { message }
  ... on LaunchRunSuccess { run { runId } } } }
"""


def test_the_exfiltration_config_is_refused_over_graphql(webserver):
    assert _asset_nodes(webserver)
    params = {
        "selector": {"repositoryLocationName": "market_assets", "repositoryName": "__repository__",
                     "jobName": "__ASSET_JOB", "assetSelection": [{"path": ["raw_prices"]}]},
        "runConfigData": {"resources": {"price_source": {"config": EXFILTRATION}}},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "2024-01-03"}]},
    }
    answer = _get(f"{webserver}/graphql", json.dumps({"query": LAUNCH, "variables": {"params": params}}).encode())
    launched = answer["data"]["launchRun"]
    assert launched["__typename"] == "RunConfigValidationInvalid", launched
    assert any("unexpected config entries" in e["message"] and "api_key_env" in e["message"]
               for e in launched["errors"])


def test_the_exfiltration_config_is_refused_by_the_cli(tmp_path):
    (tmp_path / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m", "market_assets.definitions",
         "--select", "raw_prices", "--partition", "2024-01-03",
         "--config-json", json.dumps({"resources": {"price_source": {"config": EXFILTRATION}}})],
        cwd=REPO_ROOT, env={**os.environ, "DAGSTER_HOME": str(tmp_path)}, capture_output=True, text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert "unexpected config entries" in done.stderr + done.stdout and "api_key_env" in done.stderr + done.stdout
