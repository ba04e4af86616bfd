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


@pytest.fixture
def webserver(tmp_path: Path):
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


def test_the_ui_lists_the_assets_with_their_checks(webserver):
    deadline = time.monotonic() + 60
    while True:  # the code location loads in the background after the server starts
        nodes = _get(f"{webserver}/graphql", json.dumps({"query": QUERY}).encode())["data"]["assetNodes"]
        if nodes or time.monotonic() > deadline:
            break
        time.sleep(1)
    by_name = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    assert {"raw_prices", "validated_prices", "price_rejections", "feature_table", "labels",
            "trained_model", "predictions"} <= set(by_name)
    checks = {c["name"]: c["blocking"] for c in by_name["validated_prices"]["assetChecksOrError"]["checks"]}
    assert checks["ohlc_is_consistent"] is True and "sessions_are_complete" in checks
    assert all(n["description"] for n in nodes)
