"""The production path: gRPC code server, webserver and daemon as separate processes.

The production instance (``deploy/dagster.yaml``: PostgreSQL storage, queued run
coordinator, run monitoring and retries, the event-batching variables) runs on a
scratch PostgreSQL database; data, MLflow and Optuna stores live in a temporary
directory. Over GraphQL, as the UI does, the test

* launches a partitioned materialization of ``raw_prices`` for one session and
  a single-run backfill of ``raw_prices, validated_prices, price_rejections``
  over five sessions, and sees both succeed (the queued runs are dequeued by the
  daemon and executed by run workers the code server launches);
* starts ``nightly_schedule`` and ``retrain_sensor``, sees the daemon record a
  tick of the sensor, and sees the schedule running with its next tick planned
  (a schedule ticks only at its cron time, 18:30 New York: the test dry-runs
  its evaluation for a given evening instead of waiting for one).

Every process is started in its own process group and killed with it (run
workers are children of the code server); the database is dropped.
"""

from __future__ import annotations

import contextlib
import html
import re
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from market_assets.settings import REPO_ROOT
from market_assets_tests import services

pytestmark = [pytest.mark.services, pytest.mark.slow]

BIN = Path(sys.executable).parent
LOCATION = "market_assets"
REPOSITORY = "__repository__"
START = "2024-01-02"
SINGLE_SESSION = "2024-01-10"
RANGE = ("2024-01-02", "2024-01-08")  # five XNYS sessions: 01-02, 01-03, 01-04, 01-05, 01-08
RANGE_ASSETS = ("raw_prices", "validated_prices", "price_rejections")
STARTUP_TIMEOUT = 120
RUN_TIMEOUT = 150
TICK_TIMEOUT = 150


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def tail(self, chars: int = 3000) -> str:
        return f"--- {self.name} (exit {self.popen.poll()}) ---\n" + self.log.read_text(errors="replace")[-chars:]


@dataclass
class Deployment:
    url: str
    processes: list[Process]

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:  # a malformed query: not a server still starting
            raise AssertionError(f"GraphQL HTTP {error.code}: {error.read().decode(errors='replace')[:2000]}") from None
        if answer.get("errors"):
            raise AssertionError(f"GraphQL errors: {answer['errors']}")
        return answer["data"]

    def check_alive(self) -> None:
        for process in self.processes:
            if process.popen.poll() is not None:
                pytest.fail(f"{process.name} exited\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(process.tail() for process in self.processes)

    def wait_for(self, what: str, probe, timeout: float, interval: float = 1.0):
        """Call ``probe()`` until it returns a truthy value; fail with the processes' logs after ``timeout``."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                last = probe()
            except OSError as error:  # not listening yet
                last = error
            if last and not isinstance(last, Exception):
                return last
            time.sleep(interval)
        pytest.fail(f"{what} within {timeout} s (last: {last!r})\n{self.logs()}")


def _start(name: str, command: list[str], env: dict, logs: Path) -> Process:
    log = logs / f"{name}.log"
    with log.open("wb") as handle:
        popen = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=handle,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    return Process(name, popen, log)


def _stop(process: Process) -> None:
    """SIGTERM the process group, SIGKILL what is left after 20 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.popen.pid, signal.SIGTERM)
    try:
        process.popen.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.popen.pid, signal.SIGKILL)  # run workers and their step processes too
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.popen.wait(timeout=10)


LOCATION_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name
    locationOrLoadError { __typename ... on PythonError { message } }
    loadStatus } } } }
"""
DAEMONS_QUERY = "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"


def _location_loaded(deployment: Deployment) -> bool:
    data = deployment.graphql(LOCATION_QUERY)["workspaceOrError"]
    entries = {entry["name"]: entry for entry in data.get("locationEntries", [])}
    entry = entries.get(LOCATION)
    if not entry or entry["loadStatus"] != "LOADED" or entry["locationOrLoadError"] is None:
        return False
    if entry["locationOrLoadError"]["__typename"] == "PythonError":
        pytest.fail(f"the code location failed to load: {entry['locationOrLoadError']['message']}\n"
                    f"{deployment.logs()}")
    return True


def _daemons_healthy(deployment: Deployment) -> bool:
    statuses = deployment.graphql(DAEMONS_QUERY)["instance"]["daemonHealth"]["allDaemonStatuses"]
    healthy = {s["daemonType"] for s in statuses if s["healthy"]}
    return {"SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR", "BACKFILL"} <= healthy


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("production_path")
    home, data, logs = root / "dagster_home", root / "data", root / "logs"
    for directory in (home, data, logs):
        directory.mkdir()
    (home / "dagster.yaml").write_text((REPO_ROOT / "deploy" / "dagster.yaml").read_text())
    grpc_port, web_port = _free_port(), _free_port()
    workspace = root / "workspace.yaml"
    workspace.write_text(f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {grpc_port}\n"
                         f"      location_name: {LOCATION}\n")
    processes: list[Process] = []
    with services.scratch_postgres_database("market_assets_production_path") as database:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("MARKET_ASSETS_", "DAGSTER_"))},
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_HOST": services.POSTGRES_HOST, "DAGSTER_PG_PORT": str(services.POSTGRES_PORT),
            "DAGSTER_PG_USER": services.POSTGRES_USER, "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": database,
            "DAGSTER_EVENT_BATCH_SIZE": "1000", "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
            "MARKET_ASSETS_ENV": "local",
            "MARKET_ASSETS_START": START,
            "MARKET_ASSETS_DATA_ROOT": str(data / "parquet"),
            "MARKET_ASSETS_MLFLOW_URI": f"sqlite:///{data / 'mlflow.db'}",
            "MARKET_ASSETS_MLFLOW_ARTIFACTS": str(data / "mlartifacts"),
            "MARKET_ASSETS_OPTUNA_URL": f"sqlite:///{data / 'optuna.db'}",
            "MARKET_ASSETS_UI_URL": f"http://127.0.0.1:{web_port}",
        }
        try:
            processes.append(_start("code-server", [
                str(BIN / "dagster"), "code-server", "start", "-m", "market_assets.definitions",
                "-h", "127.0.0.1", "-p", str(grpc_port)], env, logs))
            started = Deployment(f"http://127.0.0.1:{web_port}", processes)
            health = [str(BIN / "dagster"), "api", "grpc-health-check", "--host", "127.0.0.1", "--port", str(grpc_port)]
            started.wait_for("the code server answered its health check",
                             lambda: subprocess.run(health, env=env, capture_output=True, timeout=30).returncode == 0,
                             STARTUP_TIMEOUT)
            processes.append(_start("webserver", [
                str(BIN / "dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1", "-p", str(web_port)],
                env, logs))
            processes.append(_start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env, logs))
            started.wait_for("the webserver answered /server_info",
                             lambda: urllib.request.urlopen(f"{started.url}/server_info", timeout=5).status == 200,
                             STARTUP_TIMEOUT)
            started.wait_for("the code location loaded", lambda: _location_loaded(started), STARTUP_TIMEOUT)
            started.wait_for("the daemons reported healthy", lambda: _daemons_healthy(started), STARTUP_TIMEOUT)
            yield started
        finally:
            for process in reversed(processes):
                _stop(process)


# --------------------------------------------------------------------------- runs

LAUNCH_RUN = """
mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
  ... on LaunchRunSuccess { run { runId status } }
  ... on PythonError { message } ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } }
} }
"""
LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) { __typename
  ... on LaunchBackfillSuccess { backfillId }
  ... on PythonError { message } ... on InvalidSubsetError { message } ... on PartitionSetNotFoundError { message }
} }
"""
RUN_QUERY = """
query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { runId status
  tags { key value } assetSelection { path } } } }
"""
BACKFILL_QUERY = """
query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
  ... on PartitionBackfill { status numPartitions runs(limit: 10) { runId status tags { key value } } }
  ... on PythonError { message } } }
"""
MATERIALIZED_QUERY = """
query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
  materializedPartitions: partitionStats { numMaterialized numPartitions } } } }
"""
DONE = {"SUCCESS", "FAILURE", "CANCELED"}


def _run(deployment: Deployment, run_id: str) -> dict:
    return deployment.graphql(RUN_QUERY, {"id": run_id})["runOrError"]


def _wait_for_run(deployment: Deployment, run_id: str) -> dict:
    run = deployment.wait_for(f"run {run_id} finished",
                              lambda: (r := _run(deployment, run_id))["status"] in DONE and r, RUN_TIMEOUT)
    assert run["status"] == "SUCCESS", f"run {run_id}: {run['status']}\n{deployment.logs()}"
    return run


def test_a_partitioned_materialization_and_a_single_run_backfill_succeed(deployment):
    single = deployment.graphql(LAUNCH_RUN, {"params": {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": "__ASSET_JOB",
                     "assetSelection": [{"path": ["raw_prices"]}], "assetCheckSelection": []},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": SINGLE_SESSION}]},
    }})["launchRun"]
    assert single["__typename"] == "LaunchRunSuccess", single
    backfill = deployment.graphql(LAUNCH_BACKFILL, {"params": {
        "partitionsByAssets": [{"assetKey": {"path": [name]}, "partitions": {"range": {"start": RANGE[0], "end": RANGE[1]}}}
                               for name in RANGE_ASSETS],
        "allPartitions": False,
        "title": "production path test",
    }})["launchPartitionBackfill"]
    assert backfill["__typename"] == "LaunchBackfillSuccess", backfill

    run = _wait_for_run(deployment, single["run"]["runId"])
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags["dagster/partition"] == SINGLE_SESSION
    assert [a["path"] for a in run["assetSelection"]] == [["raw_prices"]]

    def backfill_done():
        data = deployment.graphql(BACKFILL_QUERY, {"id": backfill["backfillId"]})["partitionBackfillOrError"]
        assert data["__typename"] == "PartitionBackfill", data
        return data["status"] not in {"REQUESTED", "CANCELING", "FAILING"} and data

    done = deployment.wait_for("the backfill finished", backfill_done, RUN_TIMEOUT)
    assert done["status"] in {"COMPLETED", "COMPLETED_SUCCESS"}, f"{done}\n{deployment.logs()}"
    (range_run,) = done["runs"]  # BackfillPolicy.single_run(): one run for the five sessions
    assert range_run["status"] == "SUCCESS", range_run
    range_tags = {t["key"]: t["value"] for t in range_run["tags"]}
    assert (range_tags["dagster/asset_partition_range_start"], range_tags["dagster/asset_partition_range_end"]) == RANGE

    for name, expected in (("raw_prices", 6), ("validated_prices", 5), ("price_rejections", 5)):
        stats = deployment.graphql(MATERIALIZED_QUERY, {"key": {"path": [name]}})["assetNodeOrError"]
        assert stats["materializedPartitions"]["numMaterialized"] == expected, (name, stats)


# --------------------------------------------------------------------------- schedule and sensor

START_SCHEDULE = """
mutation($s: ScheduleSelector!) { startSchedule(scheduleSelector: $s) { __typename
  ... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message } } }
"""
SCHEDULE_QUERY = """
query($s: ScheduleSelector!) { scheduleOrError(scheduleSelector: $s) { __typename
  ... on Schedule { scheduleState { status } futureTicks(limit: 1) { results { timestamp } } } } }
"""
SCHEDULE_DRY_RUN = """
mutation($s: ScheduleSelector!, $t: Float) { scheduleDryRun(selectorData: $s, timestamp: $t) { __typename
  ... on DryRunInstigationTick { evaluationResult { skipReason error { message }
      runRequests { runKey tags { key value } } } }
  ... on PythonError { message } } }
"""
START_SENSOR = """
mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) { __typename
  ... on Sensor { sensorState { status } } ... on PythonError { message } } }
"""
SENSOR_TICKS = """
query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { __typename
  ... on Sensor { sensorState { status ticks(limit: 5) { status skipReason error { message } } } } } }
"""


def test_the_daemon_runs_the_nightly_schedule_and_ticks_the_retrain_sensor(deployment):
    schedule = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "scheduleName": "nightly_schedule"}
    started = deployment.graphql(START_SCHEDULE, {"s": schedule})["startSchedule"]
    assert started["__typename"] == "ScheduleStateResult", started
    assert started["scheduleState"]["status"] == "RUNNING"
    state = deployment.graphql(SCHEDULE_QUERY, {"s": schedule})["scheduleOrError"]
    assert state["scheduleState"]["status"] == "RUNNING"
    (next_tick,) = state["futureTicks"]["results"]
    next_time = dt.datetime.fromtimestamp(next_tick["timestamp"], ZoneInfo("America/New_York"))
    assert (next_time.hour, next_time.minute) == (18, 30) and next_time.weekday() < 5
    evening = dt.datetime(2024, 1, 10, 18, 30, tzinfo=ZoneInfo("America/New_York")).timestamp()
    dry = deployment.graphql(SCHEDULE_DRY_RUN, {"s": schedule, "t": evening})["scheduleDryRun"]
    assert dry["__typename"] == "DryRunInstigationTick", dry
    (request,) = dry["evaluationResult"]["runRequests"]
    assert request["runKey"] == "daily-2024-01-10"
    assert {t["key"]: t["value"] for t in request["tags"]}["dagster/partition"] == "2024-01-10"

    sensor = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": "retrain_sensor"}
    started = deployment.graphql(START_SENSOR, {"s": sensor})["startSensor"]
    assert started["__typename"] == "Sensor", started
    assert started["sensorState"]["status"] == "RUNNING"

    def ticked():
        state = deployment.graphql(SENSOR_TICKS, {"s": sensor})["sensorOrError"]["sensorState"]
        return state["ticks"]

    ticks = deployment.wait_for("the daemon recorded a tick of retrain_sensor", ticked, TICK_TIMEOUT, interval=2)
    # no drift or performance check has failed: the sensor skips, and says why
    assert ticks[0]["status"] == "SKIPPED", ticks
    assert "no new failed drift or performance check" in ticks[0]["skipReason"]


# --------------------------------------------------------------------------- a real browser

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO_ROOT / "var" / "test-output" / "production_path"


def _chromium(url: str, *, screenshot: Path | None = None) -> str:
    """The DOM Chromium renders for ``url`` (headless; with ``screenshot``: also a PNG of the page)."""
    if not CHROMIUM.exists():
        services.service_unavailable("Chromium (/usr/bin/chromium; apt-get install chromium)",
                                     FileNotFoundError(str(CHROMIUM)))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--window-size=1400,900", "--virtual-time-budget=15000"]
    with contextlib.ExitStack() as stack:
        profile = stack.enter_context(tempfile.TemporaryDirectory(prefix="chromium-"))
        flags.append(f"--user-data-dir={profile}")
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            _run_chromium([*flags, f"--screenshot={screenshot}", url])
        return _run_chromium([*flags, "--dump-dom", url])


def _run_chromium(arguments: list[str]) -> str:
    popen = subprocess.Popen([str(CHROMIUM), *arguments], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        out, _ = popen.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait(timeout=10)
    return out.decode(errors="replace")


CHECKS_QUERY = """
{ assetNodeOrError(assetKey: {path: ["validated_prices"]}) { ... on AssetNode { assetChecksOrError {
  ... on AssetChecks { checks { name executionForLatestMaterialization { status } } } } } } }
"""


def _text(dom: str) -> str:
    """The visible text of a dumped DOM, whitespace collapsed."""
    text = re.sub(r"<(style|script)\b.*?</\1>", " ", dom, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)))


def test_chromium_renders_lineage_partitions_and_checks(deployment):
    """The UI as a browser renders it: the prices group's graph, raw_prices' Partitions tab, validated_prices' checks."""
    pages = {"lineage": f"/locations/{REPOSITORY}@{LOCATION}/asset-groups/prices",
             "partitions": "/assets/raw_prices?view=partitions",
             "checks": "/assets/validated_prices?view=checks"}
    text = {}
    for name, path in pages.items():
        dom = _chromium(deployment.url + path, screenshot=SCREENSHOTS / f"{name}.png")
        (SCREENSHOTS / f"{name}.html").write_text(dom)
        text[name] = _text(dom)
    for asset in RANGE_ASSETS:
        assert asset in text["lineage"], text["lineage"][:2000]
    stats = deployment.graphql(MATERIALIZED_QUERY, {"key": {"path": ["raw_prices"]}})["assetNodeOrError"]
    stats = stats["materializedPartitions"]
    assert f"{stats['numPartitions']} Partitions" in text["partitions"], text["partitions"][:2000]
    assert f"Materialized ({stats['numMaterialized']})" in text["partitions"], text["partitions"][:2000]
    assert "2024-01-02" in text["partitions"]
    for check in ("ohlc_is_consistent", "sessions_are_complete", "no_unexplained_jumps"):
        assert check in text["checks"], text["checks"][:2000]
    # each check's result as the UI shows it, against what GraphQL says (after the backfill: Succeeded)
    checks = deployment.graphql(CHECKS_QUERY)["assetNodeOrError"]["assetChecksOrError"]["checks"]
    for check in checks:
        if check["name"] in {"ohlc_is_consistent", "sessions_are_complete"}:
            execution = check["executionForLatestMaterialization"]
            shown = execution["status"].capitalize() if execution else "Not evaluated"
            assert f"{check['name']} {shown}" in text["checks"], (check, text["checks"][:2000])
