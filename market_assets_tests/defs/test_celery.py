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

A worker that dies mid-step: a run of ``session_rows`` (one daily partition
through our Parquet IO manager; the step sleeps 5 s before returning its rows)
starts on one of two workers, and 1 s into the step the test SIGKILLs either
that worker's whole process group (a lost node) or only the pool process
running the step (an OOM kill), found by the pid and process group the step
reports to a file.  With deploy/celery.yaml (``task_acks_late``,
``task_reject_on_worker_lost``) the step runs again and the run succeeds
within a deadline; the partition file is whole, no temporary file is left,
and the partition has one materialization.  On RabbitMQ (``rpc://`` backend)
the config is used as shipped; on Redis the visibility timeout is cut from
the shipped hour to 20 s, the delay after which Redis hands out a message
whose worker vanished.  Measured (each case 27-60 s on two shared cores):
RabbitMQ, worker killed: the step restarted on the other worker 2-7 s after
the kill, the run succeeded 10-15 s after it; Redis, worker killed: 17-22 s /
28-33 s; Redis, pool process killed: 3-8 s / 13-18 s.  With Celery's defaults
instead the first case did not end within 45 s (the step was lost) and the
last failed the run naming the step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
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
import polars as pl
import pytest
import yaml
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value

from market_assets.defs.executors import (
    BACKEND_VARIABLE,
    BROKER_VARIABLE,
    deployment_executor,
    load_celery_settings,
)
from market_assets.defs.io_manager import PartitionedParquetIOManager
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
WORKER_CONFIG = REPO_ROOT / "deploy" / "celery.yaml"
# The worker-kill test: its own Redis databases (no message left on 10 by another test),
# RabbitMQ's default vhost with the guest user of a local server.
KILL_REDIS_BROKER = f"redis://{REDIS_HOST}:{REDIS_PORT}/12"
KILL_REDIS_BACKEND = f"redis://{REDIS_HOST}:{REDIS_PORT}/13"
RABBITMQ_HOST = os.environ.get("MARKET_ASSETS_TEST_RABBITMQ_HOST", "127.0.0.1")
RABBITMQ_PORT = int(os.environ.get("MARKET_ASSETS_TEST_RABBITMQ_PORT", "5672"))
RABBITMQ_BROKER = f"pyamqp://guest:guest@{RABBITMQ_HOST}:{RABBITMQ_PORT}//"
#: Where a step of the kill test reports its pid and process group (one file per execution).
STEP_REPORTS_VARIABLE = "MARKET_ASSETS_TEST_STEP_REPORTS"
KILL_PARTITION = "2024-01-03"
KILLED_STEP_SECONDS = 5.0  # the step sleeps this long before returning its rows
#: Redis in the kill test: redeliver after this many seconds instead of the shipped hour
#: (still above a whole execution of the step, or the survivor's run would be redelivered too).
TEST_VISIBILITY_TIMEOUT = 20
KILLED_RUN_DEADLINE = 90.0  # from the kill to the end of the run

RUN_SCRIPT = """
import os
import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob
job = ReconstructableJob.for_module("market_assets_tests.defs.test_celery", "celery_pid_job")
with dg.DagsterInstance.get() as instance:
    result = dg.execute_job(job, instance=instance, tags=None)
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


test_sessions = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")
SYMBOLS = ("AAA", "BBB", "CCC")


@dg.asset(partitions_def=test_sessions)
def session_rows(context) -> pl.DataFrame:  # noqa: ANN001 - dagster refuses the string annotation of this module
    """One session's rows, returned after a sleep long enough to kill the worker running the step."""
    report = Path(os.environ[STEP_REPORTS_VARIABLE]) / f"{os.getpid()}"
    report.write_text(f"{os.getpid()} {os.getpgid(0)} {time.time()}")
    time.sleep(KILLED_STEP_SECONDS)
    day = dt.date.fromisoformat(context.partition_key)
    return pl.DataFrame({"date": [day] * len(SYMBOLS), "symbol": list(SYMBOLS), "close": [10.0, 20.0, 30.0]})


def session_rows_job() -> dg.JobDefinition:
    """``session_rows`` through our Parquet IO manager, on the deployment's executor."""
    settings = load_settings()
    return dg.Definitions(
        assets=[session_rows],
        jobs=[dg.define_asset_job("session_rows_job", selection=[session_rows], partitions_def=test_sessions)],
        resources={"io_manager": PartitionedParquetIOManager(root=settings.data_root)},
        executor=deployment_executor(settings),
    ).resolve_job_def("session_rows_job")


def _require_redis() -> None:
    import redis

    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=3).ping()
    except redis.exceptions.RedisError as error:
        services.service_unavailable(f"Redis at {REDIS_HOST}:{REDIS_PORT}", error)


@dataclasses.dataclass(frozen=True)
class CeleryWorker:
    """A running ``dagster-celery worker start`` process, the leader of its own process group."""

    name: str
    process: subprocess.Popen

    def kill(self) -> None:
        """SIGKILL the whole group (the CLI, Celery's main process, its pool): no warm shutdown."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@dataclasses.dataclass(frozen=True)
class CeleryStack:
    """Two running workers, and the environment they share with the runs."""

    environ: dict[str, str]
    workers: list[CeleryWorker]
    log_dir: Path
    ready_seconds: float

    def start_run(self, job_function: str, partition_key: str | None = None) -> subprocess.Popen:
        """Start a run process executing ``job_function``'s job (of ``partition_key``)."""
        script = RUN_SCRIPT.replace("celery_pid_job", job_function)
        tags = {"dagster/partition": partition_key} if partition_key else None
        script = script.replace("tags=None", f"tags={tags!r}")
        return subprocess.Popen([sys.executable, "-c", script], env=self.environ, cwd=REPO_ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish_run(self, run: subprocess.Popen, timeout: float = RUN_TIMEOUT) -> tuple[str, bool, int]:
        """Wait for ``run`` (failing the test after ``timeout``); its run id, success and pid."""
        try:
            stdout, stderr = run.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            run.kill()
            stdout, stderr = run.communicate()
            pytest.fail(f"the run did not finish in {timeout:.0f} s:\n{stderr[-4000:]}\n{_logs(self.log_dir)}")
        assert run.returncode == 0, f"{stderr[-4000:]}\n{_logs(self.log_dir)}"
        run_id, success, run_pid = stdout.strip().splitlines()[-1].split()[1:]
        return run_id, success == "True", int(run_pid)

    def run(self, job_function: str) -> tuple[int, list[dg.DagsterEvent]]:
        """Execute ``job_function``'s job in a run process; its pid and the run's events."""
        run = self.start_run(job_function)
        run_id, success, run_pid = self.finish_run(run)
        assert success, _logs(self.log_dir)
        return run_pid, self.events(run_id)

    def events(self, run_id: str) -> list[dg.DagsterEvent]:
        """The Dagster events of ``run_id``, read from the stack's instance."""
        with dg.DagsterInstance.from_config(self.environ["DAGSTER_HOME"]) as instance:
            return [record.dagster_event for record in instance.all_logs(run_id) if record.is_dagster_event]


@contextlib.contextmanager
def celery_stack_on(root: Path, broker: str, backend: str, worker_config: Path) -> Iterator[CeleryStack]:
    """Two workers on ``broker`` with ``worker_config``; DAGSTER_HOME: deploy/dagster.yaml, a scratch database."""
    with services.scratch_postgres_database("market_assets_celery") as database, pytest.MonkeyPatch.context() as mp:
        home, log_dir = root / "dagster_home", root / "logs"
        home.mkdir(parents=True)
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
            "MARKET_ASSETS_CELERY_BROKER": broker,
            "MARKET_ASSETS_CELERY_BACKEND": backend,
            "MARKET_ASSETS_DATA_ROOT": str(root / "data"),
            "MARKET_ASSETS_CACHE_DIR": str(root / "cache"),
            STEP_REPORTS_VARIABLE: str(root / "step_reports"),
        }
        (root / "step_reports").mkdir()
        # The instance's tables exist before the workers start, as in a deployment whose webserver
        # and daemon came up first: two workers creating them at once race on alembic_version.
        with dg.DagsterInstance.from_config(str(home)):
            pass
        started = time.monotonic()
        with celery_workers(environ, log_dir, count=2, config=worker_config) as workers:
            yield CeleryStack(environ, workers, log_dir, time.monotonic() - started)


@pytest.fixture(scope="module")
def celery_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryStack]:
    """Two workers on the local Redis with deploy/celery.yaml, shared by the tests that kill none."""
    _require_redis()
    with celery_stack_on(tmp_path_factory.mktemp("celery"), BROKER, BACKEND, WORKER_CONFIG) as stack:
        yield stack


@contextlib.contextmanager
def celery_workers(environ: dict[str, str], log_dir: Path, count: int, config: Path) -> Iterator[list[CeleryWorker]]:
    """Start ``count`` workers (each in a process group of its own) with ``config``; yield them; stop them."""
    tag = uuid.uuid4().hex[:8]
    names = [f"market-assets-test-{tag}-{i}" for i in range(count)]
    processes: list[subprocess.Popen] = []
    try:
        for name in names:
            log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process below
            command = [
                str(VENV_BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
                "-y", str(config), "-q", "dagster", "-n", name, "--", "--concurrency=1",
            ]  # fmt: skip
            processes.append(
                subprocess.Popen(command, env=environ, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            )
            log.close()
        _wait_until_ready(names, processes, log_dir, environ)
        yield [CeleryWorker(name, process) for name, process in zip(names, processes, strict=True)]
    finally:
        for process in processes:
            _stop(process)


def _wait_until_ready(names: list[str], processes: list[subprocess.Popen], log_dir: Path,
                      environ: dict[str, str]) -> None:
    from celery import Celery

    app = Celery(broker=environ[BROKER_VARIABLE], backend=environ[BACKEND_VARIABLE])
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
        with contextlib.suppress(ProcessLookupError):
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
    workers = {worker.name for worker in celery_stack.workers}
    assert set(taken_by.values()) == workers, f"each worker should take one step: {taken_by}"
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


def _require_rabbitmq() -> None:
    import kombu

    try:
        with kombu.Connection(RABBITMQ_BROKER, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as error:  # noqa: BLE001 - kombu raises the transport's own errors
        services.service_unavailable(f"RabbitMQ at {RABBITMQ_HOST}:{RABBITMQ_PORT}", error)


def _kill_test_broker(broker: str, tmp_path: Path) -> tuple[str, str, Path]:
    """Broker URL, backend URL and worker config of the kill test on ``broker``.

    RabbitMQ: deploy/celery.yaml as shipped.  Redis: the same file with a
    visibility timeout of seconds instead of an hour (and a sweep every second),
    so that the redelivery the shipped file makes an hour late is seen here.
    """
    shipped = yaml.safe_load(WORKER_CONFIG.read_text())
    source = shipped["execution"]["config"]["config_source"]
    assert source["task_acks_late"] is True and source["task_reject_on_worker_lost"] is True, source
    if broker == "rabbitmq":
        _require_rabbitmq()
        return RABBITMQ_BROKER, "rpc://", WORKER_CONFIG
    import redis

    _require_redis()
    for url in (KILL_REDIS_BROKER, KILL_REDIS_BACKEND):  # messages left by an interrupted earlier run
        redis.Redis.from_url(url).flushdb()
    source["broker_transport_options"] |= {
        "visibility_timeout": TEST_VISIBILITY_TIMEOUT, "unacked_restore_interval": 1, "unacked_restore_throttle": 1,
    }
    config = tmp_path / "celery.yaml"
    config.write_text(yaml.safe_dump(shipped))
    return KILL_REDIS_BROKER, KILL_REDIS_BACKEND, config


def _step_reports(stack: CeleryStack) -> list[tuple[int, int, float]]:
    """(pid, process group, start time) of each execution of ``session_rows`` so far."""
    reports = [p.read_text().split() for p in Path(stack.environ[STEP_REPORTS_VARIABLE]).iterdir()]
    return sorted(((int(pid), int(group), float(start)) for pid, group, start in reports), key=lambda r: r[2])


def _wait_for_first_step(stack: CeleryStack, run: subprocess.Popen) -> tuple[int, int, float]:
    """The report of the step's first execution, once its body has begun."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        if reports := _step_reports(stack):
            return reports[0]
        if run.poll() is not None:
            pytest.fail(f"the run ended before its step started:\n{run.stderr.read()[-4000:]}\n{_logs(stack.log_dir)}")
        time.sleep(0.2)
    run.kill()
    pytest.fail(f"no worker started the step in {RUN_TIMEOUT:.0f} s:\n{_logs(stack.log_dir)}")


@pytest.mark.services
@pytest.mark.slow
@pytest.mark.parametrize(("broker", "target"), [("rabbitmq", "worker"), ("redis", "worker"), ("redis", "step")])
def test_a_killed_worker_leaves_no_partial_partition(broker: str, target: str, tmp_path: Path) -> None:
    """The killed step runs again, the run succeeds, and the partition is whole and materialized once."""
    broker_url, backend_url, config = _kill_test_broker(broker, tmp_path)
    with celery_stack_on(tmp_path / "stack", broker_url, backend_url, config) as stack:
        run_started = time.time()
        run = stack.start_run("session_rows_job", KILL_PARTITION)
        pid, group, step_started = _wait_for_first_step(stack, run)
        victim = next(w for w in stack.workers if w.process.pid == group)
        survivor = next(w for w in stack.workers if w is not victim)
        time.sleep(1.0)  # well inside the step's sleep
        if target == "worker":
            victim.kill()
        else:
            os.kill(pid, signal.SIGKILL)
        killed = time.time()
        run_id, success, _ = stack.finish_run(run, timeout=KILLED_RUN_DEADLINE)
        ended = time.time()
        events = stack.events(run_id)
        reports = _step_reports(stack)
        with dg.DagsterInstance.from_config(stack.environ["DAGSTER_HOME"]) as instance:
            run_status = instance.get_run_by_id(run_id).status
            materializations = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey("session_rows"), asset_partitions=[KILL_PARTITION]),
                limit=10,
            ).records
        logs = _logs(stack.log_dir)
    data = Path(stack.environ["MARKET_ASSETS_DATA_ROOT"])
    partition = data / "session_rows" / f"{KILL_PARTITION}.parquet"
    taken_by = [
        event.engine_event_data.metadata["Celery worker"].value.split("@")[0]
        for event in events
        if event.event_type == dg.DagsterEventType.ENGINE_EVENT
        and "Celery worker" in (event.engine_event_data.metadata or {})
    ]
    summary = (f"{broker}, {target} killed: workers ready in {stack.ready_seconds:.1f} s, step started "
               f"+{step_started - run_started:.1f} s after the run, killed +{killed - step_started:.1f} s, "
               f"executions {[(p, g, round(t - killed, 1)) for p, g, t in reports]}, run {run_status.value} "
               f"+{ended - killed:.1f} s after the kill; taken by {taken_by}")
    print(summary)
    assert not list(data.rglob("*.tmp")), f"leftover temporary files: {list(data.rglob('*.tmp'))}"
    # What deploy/celery.yaml promises: the step is redelivered and the run completes
    # (with Celery's defaults the worker kill hangs the run, the pool kill fails it).
    assert success and run_status == dg.DagsterRunStatus.SUCCESS, f"{summary}\n{logs}"
    assert len(taken_by) == 2 and len(reports) == 2, f"the step should have run twice: {summary}"
    if target == "worker":  # a dead worker's step can only go to the other one
        assert taken_by == [victim.name, survivor.name] and reports[1][1] == survivor.process.pid, summary
    frame = pl.read_parquet(partition)  # whole, from the execution that completed
    assert frame["symbol"].to_list() == list(SYMBOLS), frame
    assert frame["date"].unique().to_list() == [dt.date.fromisoformat(KILL_PARTITION)], frame
    assert len(materializations) == 1, f"one materialization of {KILL_PARTITION} expected: {materializations}"
