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
