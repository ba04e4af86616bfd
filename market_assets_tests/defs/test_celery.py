"""The deployment's executor, and steps on two real `dagster-celery` workers.

The first tests check :func:`market_assets.defs.executors.deployment_executor`
(which executor for which variables, the refusals, no Celery import without a
broker, no password in the job snapshot).  The service tests start two worker
processes (one task at a time each) with ``deploy/celery.yaml`` against the
local Redis, with a scratch PostgreSQL database behind ``deploy/dagster.yaml``
as DAGSTER_HOME, and execute jobs in a run process on the executor
``deployment_executor`` returns for these variables: two independent steps are
taken by the two workers (each op sleeps a little and reports its pid), and two
steps of the ``training`` pool run one after the other although both workers
are free.  A run process gets a deadline: a step no worker takes would
otherwise leave it waiting for ever.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value

from market_assets.defs.executors import (
    BACKEND_VARIABLE,
    BROKER_VARIABLE,
    deployment_executor,
    load_celery_settings,
)
from market_assets.settings import REPO_ROOT, load_settings
from market_assets_tests import services

REDIS_HOST = os.environ.get("MARKET_ASSETS_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("MARKET_ASSETS_TEST_REDIS_PORT", "6379"))
# Databases of their own, so that the queue is not shared with anything on db 0.
BROKER = f"redis://{REDIS_HOST}:{REDIS_PORT}/10"
BACKEND = f"redis://{REDIS_HOST}:{REDIS_PORT}/11"
STEP_SECONDS = 2.0  # long enough for the second step to go to the other worker
WORKER_START_TIMEOUT = 60.0
RUN_TIMEOUT = 120.0
VENV_BIN = Path(sys.executable).parent

RUN_SCRIPT = """
import os
import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob
job = ReconstructableJob.for_module("market_assets_tests.defs.test_celery", "celery_pid_job")
with dg.DagsterInstance.get() as instance:
    result = dg.execute_job(job, instance=instance)
    print("RUN", result.run_id, result.success, os.getpid())
"""


def test_without_a_broker_the_default_executor_runs_the_steps() -> None:
    settings = load_settings({})
    assert deployment_executor(settings, {}) is dg.multi_or_in_process_executor
    # a backend alone is not a switch
    assert deployment_executor(settings, {BACKEND_VARIABLE: "redis://redis:6379/1"}) is dg.multi_or_in_process_executor


def test_a_broker_selects_celery_configured_by_variable_names_not_values() -> None:
    environ = {
        BROKER_VARIABLE: "redis://:TopSecretPw@redis:6379/0",
        BACKEND_VARIABLE: "redis://:TopSecretPw@redis:6379/1",
    }
    executor = deployment_executor(load_settings({}), environ)
    assert executor.name == "celery"

    @dg.op
    def one() -> int:
        return 1

    @dg.job(executor_def=executor)
    def tiny_job() -> None:
        one()

    snapshot = serialize_value(RepositorySnap.from_def(dg.Definitions(jobs=[tiny_job]).get_repository_def()))
    assert "TopSecretPw" not in snapshot
    assert "TopSecretPw" not in repr(load_celery_settings(environ))


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({BROKER_VARIABLE: "redis://redis:6379/0"}, "CELERY_BACKEND is not: .* e.g. .*redis://host:6379/1"),
        ({BROKER_VARIABLE: "memory://", BACKEND_VARIABLE: "rpc://"}, "expected a Redis .* or RabbitMQ"),
        ({BROKER_VARIABLE: "redis://redis:6379/0", BACKEND_VARIABLE: "rpc://"}, "needs RabbitMQ"),
        ({BROKER_VARIABLE: "pyamqp://u:pw@mq//", BACKEND_VARIABLE: "cache+memory://"}, "e.g. rpc://"),
    ],
)
def test_celery_settings_that_cannot_work_are_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_celery_settings(environ)


def test_production_refuses_a_loopback_broker_and_hides_its_password() -> None:
    production = dataclasses.replace(load_settings({}), environment="production")
    environ = {BROKER_VARIABLE: "redis://:TopSecretPw@127.0.0.1:6379/0", BACKEND_VARIABLE: "redis://127.0.0.1:6379/1"}
    with pytest.raises(ValueError, match=r"redis://:\*\*\*@127.0.0.1:6379/0.? is a loopback address") as refused:
        deployment_executor(production, environ)
    assert "TopSecretPw" not in str(refused.value)


def test_a_deployment_without_celery_never_imports_it() -> None:
    code = (
        "import sys; from market_assets.defs.executors import deployment_executor; "
        "from market_assets.settings import load_settings; deployment_executor(load_settings({}), {}); "
        "print(sorted(m for m in ('celery', 'dagster_celery', 'kombu') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def _where_am_i() -> dg.Output[int]:
    time.sleep(STEP_SECONDS)
    return dg.Output(os.getpid(), metadata={"pid": os.getpid(), "hostname": socket.gethostname()})


@dg.op
def left_step() -> dg.Output[int]:
    """Report the process this step ran in."""
    return _where_am_i()


@dg.op
def right_step() -> dg.Output[int]:
    """Report the process this step ran in."""
    return _where_am_i()


def celery_pid_job() -> dg.JobDefinition:
    """Two independent steps on the deployment's executor (built where the job is loaded)."""
    @dg.job(executor_def=deployment_executor(load_settings()))
    def celery_pid_job():
        left_step()
        right_step()

    return celery_pid_job


def _timed_step() -> dg.Output[int]:
    start = time.time()
    time.sleep(STEP_SECONDS)
    return dg.Output(os.getpid(), metadata={"start": start, "end": time.time()})


@dg.op(pool="training")
def first_fit() -> dg.Output[int]:
    """Stand in for a model fit."""
    return _timed_step()


@dg.op(pool="training")
def second_fit() -> dg.Output[int]:
    """Stand in for a model fit."""
    return _timed_step()


def training_pool_job() -> dg.JobDefinition:
    """Two independent steps in the `training` pool, on the deployment's executor."""

    @dg.job(executor_def=deployment_executor(load_settings()))
    def training_pool_job():
        first_fit()
        second_fit()

    return training_pool_job


def _require_redis() -> None:
    import redis

    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=3).ping()
    except redis.exceptions.RedisError as error:
        services.service_unavailable(f"Redis at {REDIS_HOST}:{REDIS_PORT}", error)


@dataclasses.dataclass(frozen=True)
class CeleryStack:
    """Two running workers, and the environment they share with the runs."""

    environ: dict[str, str]
    workers: list[str]
    log_dir: Path
    ready_seconds: float

    def run(self, job_function: str) -> tuple[int, list[dg.DagsterEvent]]:
        """Execute ``job_function``'s job in a run process; its pid and the run's events."""
        script = RUN_SCRIPT.replace("celery_pid_job", job_function)
        try:
            run = subprocess.run([sys.executable, "-c", script], env=self.environ, cwd=REPO_ROOT,
                                 capture_output=True, text=True, timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired as timeout:
            pytest.fail(f"the run did not finish in {RUN_TIMEOUT:.0f} s:\n{timeout.stdout}\n{_logs(self.log_dir)}")
        assert run.returncode == 0, f"{run.stderr[-4000:]}\n{_logs(self.log_dir)}"
        run_id, success, run_pid = run.stdout.strip().splitlines()[-1].split()[1:]
        assert success == "True", f"{run.stderr[-4000:]}\n{_logs(self.log_dir)}"
        with dg.DagsterInstance.from_config(self.environ["DAGSTER_HOME"]) as instance:
            events = [record.dagster_event for record in instance.all_logs(run_id) if record.is_dagster_event]
        return int(run_pid), events


@pytest.fixture(scope="module")
def celery_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryStack]:
    """Two workers on the local Redis; DAGSTER_HOME with deploy/dagster.yaml on a scratch PostgreSQL database."""
    _require_redis()
    root = tmp_path_factory.mktemp("celery")
    with services.scratch_postgres_database("market_assets_celery") as database, pytest.MonkeyPatch.context() as mp:
        home, log_dir = root / "dagster_home", root / "logs"
        home.mkdir()
        log_dir.mkdir()
        (home / "dagster.yaml").write_text((REPO_ROOT / "deploy" / "dagster.yaml").read_text())
        instance_environ = {
            "DAGSTER_PG_HOST": services.POSTGRES_HOST,
            "DAGSTER_PG_PORT": str(services.POSTGRES_PORT),
            "DAGSTER_PG_USER": services.POSTGRES_USER,
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_DB": database,
        }
        for name, value in instance_environ.items():  # this process reads the run's events
            mp.setenv(name, value)
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("MARKET_ASSETS_", "DAGSTER_"))}
        environ = inherited | instance_environ | {
            "PATH": f"{VENV_BIN}{os.pathsep}{inherited.get('PATH', '')}",
            "PYTHONPATH": str(REPO_ROOT),
            "DAGSTER_HOME": str(home),
            "MARKET_ASSETS_CELERY_BROKER": BROKER,
            "MARKET_ASSETS_CELERY_BACKEND": BACKEND,
            "MARKET_ASSETS_DATA_ROOT": str(root / "data"),
            "MARKET_ASSETS_CACHE_DIR": str(root / "cache"),
        }
        started = time.monotonic()
        with celery_workers(environ, log_dir, count=2) as workers:
            yield CeleryStack(environ, workers, log_dir, time.monotonic() - started)


@contextlib.contextmanager
def celery_workers(environ: dict[str, str], log_dir: Path, count: int) -> Iterator[list[str]]:
    """Start ``count`` workers (each in a process group of its own); yield their names; stop them."""
    tag = uuid.uuid4().hex[:8]
    names = [f"market-assets-test-{tag}-{i}" for i in range(count)]
    processes: list[subprocess.Popen] = []
    try:
        for name in names:
            log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process below
            command = [
                str(VENV_BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
                "-y", str(REPO_ROOT / "deploy" / "celery.yaml"), "-q", "dagster", "-n", name,
                "--", "--concurrency=1",
            ]  # fmt: skip
            processes.append(
                subprocess.Popen(command, env=environ, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            )
            log.close()
        _wait_until_ready(names, processes, log_dir)
        yield names
    finally:
        for process in processes:
            _stop(process)


def _wait_until_ready(names: list[str], processes: list[subprocess.Popen], log_dir: Path) -> None:
    from celery import Celery

    app = Celery(broker=BROKER, backend=BACKEND)
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    answered: set[str] = set()
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"a Celery worker exited with {process.returncode}:\n{_logs(log_dir)}")
        replies = app.control.ping(timeout=1.0) or []
        answered = {node.split("@")[0] for reply in replies for node in reply}
        if set(names) <= answered:
            return
    pytest.fail(f"Celery workers {names} not ready after {WORKER_START_TIMEOUT:.0f} s "
                f"(answered: {sorted(answered)}):\n{_logs(log_dir)}")


def _stop(process: subprocess.Popen) -> None:
    """Warm shutdown of the worker's process group (the CLI, Celery's main process, its pool)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # pool processes left behind, if any
        os.killpg(process.pid, signal.SIGKILL)


def _logs(log_dir: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(log_dir.glob("*.log")))


@pytest.mark.services
@pytest.mark.slow
def test_two_steps_run_on_two_celery_workers(celery_stack: CeleryStack) -> None:
    started = time.monotonic()
    run_pid, events = celery_stack.run("celery_pid_job")
    taken_by = {
        event.step_key: event.engine_event_data.metadata["Celery worker"].value.split("@")[0]
        for event in events
        if event.event_type == dg.DagsterEventType.ENGINE_EVENT
        and "Celery worker" in (event.engine_event_data.metadata or {})
    }
    pids = {
        event.step_key: event.step_output_data.metadata["pid"].value
        for event in events
        if event.event_type == dg.DagsterEventType.STEP_OUTPUT
    }
    assert set(taken_by) == {"left_step", "right_step"}, taken_by
    assert set(taken_by.values()) == set(celery_stack.workers), f"each worker should take one step: {taken_by}"
    assert set(pids) == {"left_step", "right_step"}, pids
    # Neither step ran in the run process nor in this one, and not in the same process.
    assert not {os.getpid(), run_pid} & set(pids.values()) and len(set(pids.values())) == 2, pids
    print(f"workers ready in {celery_stack.ready_seconds:.1f} s, run in {time.monotonic() - started:.1f} s")


@pytest.mark.services
@pytest.mark.slow
def test_the_training_pool_holds_on_celery_workers(celery_stack: CeleryStack) -> None:
    """deploy/dagster.yaml gives an unconfigured pool one slot: two free workers still fit one model at a time."""
    _, events = celery_stack.run("training_pool_job")
    spans = sorted(
        (event.step_output_data.metadata["start"].value, event.step_output_data.metadata["end"].value)
        for event in events
        if event.event_type == dg.DagsterEventType.STEP_OUTPUT
    )
    assert len(spans) == 2
    (_, first_end), (second_start, _) = spans
    assert second_start >= first_end, f"the two `training` steps overlapped: {spans}"
