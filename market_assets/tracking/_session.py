"""Where MLflow stores things, and how it is imported: quietly and offline.

mlflow is imported only inside :func:`import_mlflow`, never at module top
level, so importing :mod:`market_assets.tracking` stays cheap and the Dagster
code location never loads mlflow.

Side effects of :func:`import_mlflow` (process-wide, documented on purpose):

* ``MLFLOW_DISABLE_TELEMETRY=true``: mlflow 3 sends usage telemetry and
  fetches its telemetry config over HTTPS unless disabled; the telemetry
  client is re-initialised so this holds even if mlflow was imported before.
* ``GIT_PYTHON_REFRESH=quiet`` (default only): GitPython does not complain
  at import when no git executable exists (slim containers).
* ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false`` (default only): reading a
  small JSON artifact back does not draw a progress bar into the run logs.
* Informational loggers (database migrations, git SHA lookup, uv project
  detection) are raised to WARNING or ERROR, and the "no pip version"
  warning of a uv-managed venv is dropped; errors are never hidden.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

DATABASE_SCHEMES: tuple[str, ...] = ("sqlite", "postgresql", "mysql", "mssql")
_QUIET_LOGGERS: dict[str, int] = {
    "mlflow.store.db.utils": logging.WARNING,      # "Creating initial MLflow database tables..."
    "mlflow.store.model_registry.abstract_store": logging.WARNING,
    "mlflow.utils.git_utils": logging.ERROR,       # "Failed to import Git ... Git SHA not available"
    "alembic.runtime.migration": logging.WARNING,  # one INFO line per schema migration
    "mlflow.utils.uv_utils": logging.WARNING,      # "Detected uv project ..." on every log_model
}
# Expected in a uv-managed venv (no pip installed); other mlflow.utils.environment warnings pass.
_DROPPED_WARNINGS: dict[str, str] = {"mlflow.utils.environment": "Failed to resolve installed pip version"}


class _DropMessage(logging.Filter):
    """Drop records whose message starts with one known, harmless text."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)


@dataclass(frozen=True)
class TrackingConfig:
    """Where runs, registered models and artifacts live.

    Attributes
    ----------
    tracking_uri : str
        MLflow tracking store: ``sqlite:///path/mlflow.db`` locally, an
        ``http(s)://`` tracking server or ``postgresql+psycopg2://...`` in
        production.
    registry_uri : str or None
        Model registry store; None uses the tracking store.
    experiment : str
        Experiment that receives the runs; created on first use.
    artifact_root : str or None
        Artifact location for a newly created experiment (a path or URL).
        None: next to the database for SQLite (``<db dir>/artifacts``), the
        server's default for ``http(s)`` URIs; required for other databases.
        An existing experiment keeps the location it was created with.
    ui_url : str or None
        Base URL of an MLflow UI serving this store, for links to runs
        (an ``http(s)`` tracking URI is its own UI).
    """

    tracking_uri: str
    registry_uri: str | None = None
    experiment: str = "market_assets"
    artifact_root: str | None = None
    ui_url: str | None = None


def tracking_uri_for(root: Path) -> str:
    """The local SQLite tracking URI under ``root``: ``sqlite:///<root>/mlflow.db``.

    Artifacts of a :class:`TrackingConfig` with this URI and no
    ``artifact_root`` go to ``<root>/artifacts``.
    """
    return f"sqlite:///{Path(root).resolve()}/mlflow.db"


def local_tracking_config(root: Path, experiment: str = "market_assets") -> TrackingConfig:
    """A :class:`TrackingConfig` for a server-less local store under ``root`` (created if missing)."""
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    return TrackingConfig(
        tracking_uri=tracking_uri_for(root), experiment=experiment, artifact_root=str(root / "artifacts")
    )


def _scheme(uri: str) -> str:
    return uri.split(":", 1)[0].split("+", 1)[0].lower() if ":" in uri else ""


def redacted(uri: str) -> str:
    """``uri`` with any password replaced by ``***`` (for messages and logs)."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", uri)


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI; None for any other URI."""
    if _scheme(uri) != "sqlite":
        return None
    return Path(uri.split(":///", 1)[-1])


def artifact_location(config: TrackingConfig) -> str | None:
    """The artifact location to give a new experiment (see :class:`TrackingConfig`).

    Raises
    ------
    ValueError
        For a non-SQLite database URI without ``artifact_root``: mlflow would
        otherwise write artifacts relative to the current directory.
    """
    if config.artifact_root is not None:
        return config.artifact_root
    database = sqlite_path(config.tracking_uri)
    if database is not None:
        return str(database.parent / "artifacts")
    if _scheme(config.tracking_uri) in DATABASE_SCHEMES:
        raise ValueError(
            f"tracking_uri={redacted(config.tracking_uri)!r} is a database but artifact_root is None: "
            "expected an artifact_root (a path or s3://... URL) so artifacts do not land in "
            "the current directory"
        )
    return None


def import_mlflow() -> ModuleType:
    """Import mlflow with telemetry off and chatty loggers quieted (see module docstring)."""
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow
    from mlflow.telemetry import set_telemetry_client

    set_telemetry_client()  # re-reads the switch: no client, no network, even if imported earlier
    _quiet_loggers()
    return mlflow


def _quiet_loggers() -> None:
    for name, level in _QUIET_LOGGERS.items():
        logger = logging.getLogger(name)
        logger.setLevel(max(level, logger.getEffectiveLevel()))
    for name, prefix in _DROPPED_WARNINGS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessage) and f.prefix == prefix for f in logger.filters):
            logger.addFilter(_DropMessage(prefix))


def _create_sqlite_directories(config: TrackingConfig) -> None:
    """SQLite creates a missing database file but not its directory; create it."""
    for uri in (config.tracking_uri, config.registry_uri or ""):
        database = sqlite_path(uri)
        if database is not None:
            database.parent.mkdir(parents=True, exist_ok=True)


def client_for(config: TrackingConfig) -> Any:
    """An ``MlflowClient`` bound to the config's tracking and registry stores.

    The registry URI is always passed: left as None, mlflow would take the
    process-wide one that :func:`activate` set for an earlier config.
    """
    mlflow = import_mlflow()
    _create_sqlite_directories(config)
    registry_uri = config.registry_uri or config.tracking_uri
    return mlflow.MlflowClient(tracking_uri=config.tracking_uri, registry_uri=registry_uri)


def activate(config: TrackingConfig) -> ModuleType:
    """Point mlflow's process-wide (fluent) tracking and registry URIs at ``config``.

    ``mlflow.start_run``, ``log_model`` and ``load_model`` only read the global
    URIs, so every function that uses them calls this first; both URIs are
    always set, so an earlier config never leaks into a later call.
    """
    mlflow = import_mlflow()
    _create_sqlite_directories(config)
    mlflow.set_tracking_uri(config.tracking_uri)
    mlflow.set_registry_uri(config.registry_uri or config.tracking_uri)
    return mlflow


def experiment_id(config: TrackingConfig) -> str:
    """The id of ``config.experiment``, created (with :func:`artifact_location`) when missing."""
    client = client_for(config)
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(config.experiment)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(config.experiment, artifact_location=artifact_location(config))
    except MlflowException:  # another process may have created it between the two calls
        found = client.get_experiment_by_name(config.experiment)
        if found is None:
            raise
        return found.experiment_id


def is_not_found(error: Exception) -> bool:
    """True for an ``MlflowException`` meaning "no such model, version or alias"."""
    return getattr(error, "error_code", None) in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")


@contextlib.contextmanager
def model_deserialization_allowed() -> Iterator[None]:
    """Allow mlflow to deserialize a model for the duration of the block.

    mlflow 3 refuses to load sklearn models (skops included) unless
    ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` is true, because a model file can
    run code.  Our registry holds models this pipeline wrote, so loading from
    it is trusted.  An operator who sets the variable explicitly (to any
    value, e.g. ``false``) keeps control: it is only filled in when unset.
    """
    name = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"
    if name in os.environ:
        yield
        return
    os.environ[name] = "true"
    try:
        yield
    finally:
        os.environ.pop(name, None)
