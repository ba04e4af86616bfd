"""The executor of the deployment: steps in processes of the run, or on Celery workers.

``deployment_executor`` returns Dagster's default executor
(``multi_or_in_process_executor``: each step in a child process of the run
worker; a run may choose ``execution: {config: {in_process: {}}}``) unless
``MARKET_ASSETS_CELERY_BROKER`` is set; then every step is sent to the Celery
queue ``dagster`` and runs on whichever ``dagster-celery`` worker takes it,
on this machine or another.

==================================  ============================================================
variable                            meaning
==================================  ============================================================
``MARKET_ASSETS_CELERY_BROKER``     Celery broker URL: ``redis://host:6379/0`` or
                                    ``pyamqp://user:password@host:5672//`` (RabbitMQ).
                                    Unset: no Celery.
``MARKET_ASSETS_CELERY_BACKEND``    Celery result backend URL, required with a broker:
                                    ``redis://host:6379/1``, or ``rpc://`` with RabbitMQ;
                                    not used without a broker.
==================================  ============================================================

The workers read the same two variables through ``deploy/celery.yaml``
(``dagster-celery worker start -A dagster_celery.app -y deploy/celery.yaml -q dagster``)
and need the code, the same Dagster instance (PostgreSQL) and the same data
root as the run worker: a step's inputs are read from where the previous step,
on another worker, wrote them.

The URLs may hold a password: the executor's config carries ``{env: VARIABLE}``,
so the job snapshot the webserver receives holds the variable's name, and the
value is read by the run worker when the run starts.  Note that
``dagster-celery worker start`` writes the resolved URLs into a config module
under ``$DAGSTER_HOME/dagster_celery/config/`` on the worker's machine.

When a worker dies mid-step, the step runs again on another worker and the
run goes on.  ``deploy/celery.yaml`` sets ``task_acks_late`` (a step's message
is acknowledged once the step has run, not when a worker takes it) and
``task_reject_on_worker_lost`` (a message whose pool process died goes back to
the queue); with Celery's defaults the message was acknowledged on receipt, so
a killed worker's step was lost and its run waited for ever.  These settings
act where messages are consumed, on the workers: the run worker only publishes
steps and reads their results, so its executor carries no ``config_source``
(dagster-celery builds the run worker's Celery app from the executor config,
and the workers' from ``-y deploy/celery.yaml``).  How soon the step is
redelivered depends on the broker; measured with two workers and a step
that sleeps 5 s (``market_assets_tests/defs/test_celery.py``, a few runs on
two shared cores; "restarted" is when the step's body began again on a
worker, "ended" when the run succeeded):

* the pool process running the step is killed (the OOM killer), either
  broker: its worker puts the message back at once; the step restarted on the
  other worker 3-8 s after the kill, the run ended 13-18 s after it;
* the whole worker is killed (SIGKILL, a lost node), RabbitMQ: the broker
  requeues the unacknowledged message when the worker's connection drops;
  restarted 2-7 s, ended 10-15 s after the kill;
* the whole worker is killed, Redis: Redis sees no consumer go away; the
  message is restored once it has been out for the ``visibility_timeout`` of
  ``broker_transport_options`` (3600 s in deploy/celery.yaml), at a worker's
  next sweep (every ~100 s).  The run waits that long, then succeeds (with a
  20 s timeout in the test: restarted 17-22 s, ended 28-33 s after the kill).  The
  timeout must exceed the longest step (a single-run backfill is one step),
  or a step still running is started a second time on another worker.

So use RabbitMQ where workers may die (spot nodes, OOM kills) and an hour's
wait is too long.  Its own limit: RabbitMQ closes a channel whose delivery
stays unacknowledged longer than its ``consumer_timeout`` (30 min by
default), and requeues the delivery, which with late acknowledgement starts a
longer step a second time: raise it above the longest step in
``rabbitmq.conf`` (``consumer_timeout = 14400000``, 4 h).

A redelivered step runs again from its start, so its writes must be
idempotent, as our IO manager's are: one file per partition, written to a
temporary name and renamed, so a killed step leaves no partial partition and
the redelivered one writes it whole.  The partition gets one materialization,
from the execution that completed (two only if the worker died between
storing the materialization and returning the step's result: both complete).
A step that kills its worker every time (always out of memory) is redelivered
for ever: the run tag ``dagster/max_runtime`` (seconds) or the instance's
``run_monitoring.max_runtime_seconds`` makes the daemon fail such a run.

dagster_celery (and Celery) is imported only when a broker is set, so the code
location of a deployment without Celery never loads it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import dagster as dg

from market_assets.settings import Settings
from market_assets.sources.http import hide_password

BROKER_VARIABLE = "MARKET_ASSETS_CELERY_BROKER"
BACKEND_VARIABLE = "MARKET_ASSETS_CELERY_BACKEND"
#: Broker URL schemes of the two supported brokers.
REDIS_SCHEMES = ("redis", "rediss")
AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")
#: Backend URL schemes a worker on another machine can write to and the run worker read.
BACKEND_SCHEMES = (*REDIS_SCHEMES, "rpc", "db+postgresql", "db+postgresql+psycopg2")


@dataclass(frozen=True)
class CelerySettings:
    """Where steps are queued and their results kept; both None: no Celery."""

    #: the broker URL (for validation; the executor reads the variable at run time)
    broker: str | None
    #: the result backend URL
    backend: str | None

    def __repr__(self) -> str:  # URLs may hold a password
        return f"CelerySettings(broker={hide_password(self.broker)!r}, backend={hide_password(self.backend)!r})"


def load_celery_settings(environ: Mapping[str, str] | None = None) -> CelerySettings:
    """Read and check the two Celery variables from ``environ`` (default: ``os.environ``).

    Raises
    ------
    ValueError
        Naming the variable, its value (password hidden) and what was expected.
    """
    env = os.environ if environ is None else environ
    broker = env.get(BROKER_VARIABLE, "").strip() or None
    backend = env.get(BACKEND_VARIABLE, "").strip() or None
    if broker is None:  # the broker is the switch: a backend alone is not used
        return CelerySettings(broker=None, backend=None)
    broker_scheme = _scheme(broker)
    if broker_scheme not in REDIS_SCHEMES + AMQP_SCHEMES:
        raise ValueError(
            f"{BROKER_VARIABLE}={hide_password(broker)!r}: expected a Redis (redis://host:6379/0) or RabbitMQ "
            f"(pyamqp://user:password@host:5672//) URL, which workers on other machines can reach"
        )
    suggestion = "redis://host:6379/1" if broker_scheme in REDIS_SCHEMES else "rpc://"
    if backend is None:
        raise ValueError(
            f"{BROKER_VARIABLE} is set but {BACKEND_VARIABLE} is not: the run worker reads each step's result "
            f"from the backend the Celery workers write to; expected e.g. {BACKEND_VARIABLE}={suggestion}"
        )
    backend_scheme = _scheme(backend)
    if backend_scheme not in BACKEND_SCHEMES:
        raise ValueError(
            f"{BACKEND_VARIABLE}={hide_password(backend)!r}: expected a result backend that the workers and the "
            f"run worker share, one of the schemes {list(BACKEND_SCHEMES)}; e.g. {suggestion}"
        )
    if backend_scheme == "rpc" and broker_scheme not in AMQP_SCHEMES:
        raise ValueError(
            f"{BACKEND_VARIABLE}='rpc://' sends results back over the broker, which needs RabbitMQ (pyamqp://), "
            f"but {BROKER_VARIABLE} is {hide_password(broker)!r}; expected e.g. {BACKEND_VARIABLE}=redis://host:6379/1"
        )
    return CelerySettings(broker=broker, backend=backend)


def deployment_executor(settings: Settings, environ: Mapping[str, str] | None = None) -> dg.ExecutorDefinition:
    """The executor for ``Definitions(executor=...)``: Celery when a broker is set, else Dagster's default.

    Parameters
    ----------
    settings
        The deployment's settings; ``MARKET_ASSETS_ENV=production`` refuses
        the loopback broker hosts (``localhost``, ``127.*``), since workers on
        other machines could not reach them.
    environ
        Where the two Celery variables are read (default: ``os.environ``).

    Returns
    -------
    dg.ExecutorDefinition
        ``dg.multi_or_in_process_executor`` without a broker, else
        ``celery_executor`` configured with ``{env: MARKET_ASSETS_CELERY_BROKER}``
        and ``{env: MARKET_ASSETS_CELERY_BACKEND}``.
    """
    celery = load_celery_settings(environ)
    if celery.broker is None:
        return dg.multi_or_in_process_executor
    host = urlsplit(celery.broker).hostname or ""
    if settings.environment == "production" and (host == "localhost" or host.startswith("127.")):
        raise ValueError(
            f"{BROKER_VARIABLE}={hide_password(celery.broker)!r} is a loopback address, and "
            f"MARKET_ASSETS_ENV=production runs Celery workers on other machines, which cannot reach it; "
            f"expected the broker's network name (redis://redis:6379/0), or MARKET_ASSETS_ENV=local / test"
        )
    from dagster_celery import celery_executor  # imports Celery: only for a deployment that uses it

    return celery_executor.configured(
        {"broker": {"env": BROKER_VARIABLE}, "backend": {"env": BACKEND_VARIABLE}},
        name="celery",
    )


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:
        return ""
