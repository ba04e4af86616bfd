"""The production deployment as separate processes, for the production-path tests.

A throw-away PostgreSQL cluster of the test's own (so the test may restart it),
the instance of ``deploy/dagster.yaml`` on it, and a gRPC code server,
``dagster-webserver`` and ``dagster-daemon`` each in its own process group
(killed with it: run workers are children of the code server), plus what a
test needs to talk to them over GraphQL and to wait on them with a bound.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from market_assets.settings import REPO_ROOT
from market_assets_tests import services

BIN = Path(sys.executable).parent
LOCATION = "market_assets"
REPOSITORY = "__repository__"
STARTUP_TIMEOUT = 120
REQUIRED_DAEMONS = frozenset({"SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR", "BACKFILL"})


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Process:
    """A started process and the file its stdout and stderr go to."""

    name: str
    popen: subprocess.Popen
    log: Path

    def tail(self, chars: int = 3000) -> str:
        return f"--- {self.name} (exit {self.popen.poll()}) ---\n" + self.log.read_text(errors="replace")[-chars:]


@dataclass
class Deployment:
    """The running deployment: the webserver's URL, the processes, the PostgreSQL cluster and database."""

    url: str
    processes: list[Process]
    cluster: services.PostgresCluster
    database: str
    grpc_port: int

    @property
    def postgres_url(self) -> str:
        return f"postgresql+psycopg2://{self.cluster.user}@{self.cluster.host}:{self.cluster.port}/{self.database}"

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
        """The ``data`` of the answer; an AssertionError when the answer has errors or is not HTTP 200."""
        answer = self.graphql_answer(query, variables, timeout)
        if answer.get("errors") or answer.get("http_status"):
            raise AssertionError(f"GraphQL HTTP {answer.get('http_status', 200)}, errors: {answer.get('errors')}, "
                                 f"data: {json.dumps(answer.get('data'))[:2000]}")
        return answer["data"]

    def graphql_answer(self, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
        """The whole answer (``data``, ``errors``; ``http_status`` when not 200), without judging it."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:  # the server answered, with an error status
            text = error.read().decode(errors="replace")
            try:
                answer = json.loads(text)
            except ValueError:
                answer = {"errors": [{"message": text[:2000]}]}
            return {**answer, "http_status": error.code}

    def check_alive(self) -> None:
        """Fail, with every log, if any process has exited."""
        for process in self.processes:
            if process.popen.poll() is not None:
                pytest.fail(f"{process.name} exited\n{self.logs()}")

    def logs(self) -> str:
        """The tail of each process's log and of PostgreSQL's."""
        postgres = self.cluster.log.read_text(errors="replace")[-2000:] if self.cluster.log.exists() else ""
        return "\n".join(process.tail() for process in self.processes) + f"\n--- postgres ---\n{postgres}"

    def process(self, name: str) -> Process:
        return next(process for process in self.processes if process.name == name)

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


def start_process(name: str, command: list[str], env: dict, logs: Path) -> Process:
    """Start ``command`` in a process group of its own, its output in ``logs/<name>.log``."""
    log = logs / f"{name}.log"
    with log.open("wb") as handle:
        popen = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=handle,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    return Process(name, popen, log)


def stop_process(process: Process) -> None:
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


def location_loaded(deployment: Deployment) -> bool:
    """Whether the webserver has loaded the code location (a load error fails the test)."""
    data = deployment.graphql(LOCATION_QUERY)["workspaceOrError"]
    entries = {entry["name"]: entry for entry in data.get("locationEntries", [])}
    entry = entries.get(LOCATION)
    if not entry or entry["loadStatus"] != "LOADED" or entry["locationOrLoadError"] is None:
        return False
    if entry["locationOrLoadError"]["__typename"] == "PythonError":
        pytest.fail(f"the code location failed to load: {entry['locationOrLoadError']['message']}\n"
                    f"{deployment.logs()}")
    return True


def daemons_healthy(deployment: Deployment) -> bool:
    """Whether every daemon the deployment relies on reports healthy."""
    statuses = deployment.graphql(DAEMONS_QUERY)["instance"]["daemonHealth"]["allDaemonStatuses"]
    healthy = {s["daemonType"] for s in statuses if s["healthy"]}
    return REQUIRED_DAEMONS <= healthy


@contextlib.contextmanager
def running_deployment(root: Path, settings: dict[str, str]) -> Iterator[Deployment]:
    """Start the production deployment under ``root``; yield it once every part answers; stop it all.

    ``settings`` are ``MARKET_ASSETS_*`` variables for every process (data,
    MLflow and Optuna stores are set to live under ``root``).
    """
    home, data, logs = root / "dagster_home", root / "data", root / "logs"
    for directory in (home, data, logs):
        directory.mkdir()
    (home / "dagster.yaml").write_text((REPO_ROOT / "deploy" / "dagster.yaml").read_text())
    grpc_port, web_port, pg_port = free_port(), free_port(), free_port()
    workspace = root / "workspace.yaml"
    workspace.write_text(f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {grpc_port}\n"
                         f"      location_name: {LOCATION}\n")
    processes: list[Process] = []
    with services.postgres_cluster(pg_port) as cluster:
        database = cluster.create_database("market_assets_production_path")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("MARKET_ASSETS_", "DAGSTER_"))},
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_HOST": cluster.host, "DAGSTER_PG_PORT": str(cluster.port),
            "DAGSTER_PG_USER": cluster.user, "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": database,
            "DAGSTER_EVENT_BATCH_SIZE": "1000", "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
            "MARKET_ASSETS_ENV": "local",
            **settings,
            "MARKET_ASSETS_DATA_ROOT": str(data / "parquet"),
            "MARKET_ASSETS_MLFLOW_URI": f"sqlite:///{data / 'mlflow.db'}",
            "MARKET_ASSETS_MLFLOW_ARTIFACTS": str(data / "mlartifacts"),
            "MARKET_ASSETS_OPTUNA_URL": f"sqlite:///{data / 'optuna.db'}",
            "MARKET_ASSETS_UI_URL": f"http://127.0.0.1:{web_port}",
        }
        started = Deployment(f"http://127.0.0.1:{web_port}", processes, cluster, database, grpc_port)
        try:
            processes.append(start_process("code-server", [
                str(BIN / "dagster"), "code-server", "start", "-m", "market_assets.definitions",
                "-h", "127.0.0.1", "-p", str(grpc_port)], env, logs))
            health = [str(BIN / "dagster"), "api", "grpc-health-check", "--host", "127.0.0.1", "--port", str(grpc_port)]
            started.wait_for("the code server answered its health check",
                             lambda: subprocess.run(health, env=env, capture_output=True, timeout=30).returncode == 0,
                             STARTUP_TIMEOUT)
            processes.append(start_process("webserver", [
                str(BIN / "dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1", "-p", str(web_port)],
                env, logs))
            processes.append(start_process("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)],
                                           env, logs))
            started.wait_for("the webserver answered /server_info",
                             lambda: urllib.request.urlopen(f"{started.url}/server_info", timeout=5).status == 200,
                             STARTUP_TIMEOUT)
            started.wait_for("the code location loaded", lambda: location_loaded(started), STARTUP_TIMEOUT)
            started.wait_for("the daemons reported healthy", lambda: daemons_healthy(started), STARTUP_TIMEOUT)
            yield started
        finally:
            for process in reversed(processes):
                stop_process(process)
