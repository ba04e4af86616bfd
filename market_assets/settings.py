"""The one place that reads the environment.

Everything that differs between a laptop, the test suite and production is
decided here, once, from ``MARKET_ASSETS_*`` variables; assets and resources
receive the resulting values and never call ``os.getenv`` themselves.

=============================  ==========================  =====================================
variable                       default                     meaning
=============================  ==========================  =====================================
``MARKET_ASSETS_ENV``          ``local``                   ``local``, ``test`` or ``production``
``MARKET_ASSETS_DATA_ROOT``    ``<repo>/var/data``         Parquet root: a path or a UPath URL
                                                           (``s3://bucket/prefix``)
``MARKET_ASSETS_CALENDAR``     ``XNYS``                    exchange_calendars code of the market
``MARKET_ASSETS_START``        ``2016-01-04``              first daily partition (a session)
``MARKET_ASSETS_SOURCE``       ``synthetic``               price source kind (see ``sources``)
``MARKET_ASSETS_SYMBOLS``      (source default)            comma-separated universe
``MARKET_ASSETS_MLFLOW_URI``   ``sqlite:///<repo>/var/…``  MLflow tracking + registry URI
``MARKET_ASSETS_MLFLOW_ARTIFACTS`` (beside the SQLite file)  MLflow artifact root (s3://…, a path)
``MARKET_ASSETS_OPTUNA_URL``   ``sqlite:///<repo>/var/…``  Optuna study storage (RDB URL)
=============================  ==========================  =====================================
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENVIRONMENTS = ("local", "test", "production")
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Deployment settings, fixed when the code location loads."""

    environment: str
    data_root: str
    calendar: str
    start_date: dt.date
    source: str
    symbols: tuple[str, ...] | None
    mlflow_tracking_uri: str
    mlflow_artifact_root: str | None
    optuna_storage: str


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read :class:`Settings` from ``environ`` (default: ``os.environ``).

    Raises
    ------
    ValueError
        Naming the variable, the value found and what was expected.
    """
    env = os.environ if environ is None else environ
    environment = env.get("MARKET_ASSETS_ENV", "local")
    if environment not in ENVIRONMENTS:
        raise ValueError(
            f"MARKET_ASSETS_ENV={environment!r}: expected one of {list(ENVIRONMENTS)}"
        )
    start_text = env.get("MARKET_ASSETS_START", "2016-01-04")
    try:
        start_date = dt.date.fromisoformat(start_text)
    except ValueError:
        raise ValueError(
            f"MARKET_ASSETS_START={start_text!r}: expected an ISO date such as 2016-01-04"
        ) from None
    symbols_text = env.get("MARKET_ASSETS_SYMBOLS", "").strip()
    symbols = tuple(s.strip() for s in symbols_text.split(",") if s.strip()) or None
    return Settings(
        environment=environment,
        data_root=env.get("MARKET_ASSETS_DATA_ROOT", str(REPO_ROOT / "var" / "data")),
        calendar=env.get("MARKET_ASSETS_CALENDAR", "XNYS"),
        start_date=start_date,
        source=env.get("MARKET_ASSETS_SOURCE", "synthetic"),
        symbols=symbols,
        mlflow_tracking_uri=env.get(
            "MARKET_ASSETS_MLFLOW_URI", f"sqlite:///{REPO_ROOT / 'var' / 'mlflow' / 'mlflow.db'}"
        ),
        mlflow_artifact_root=env.get("MARKET_ASSETS_MLFLOW_ARTIFACTS") or None,
        optuna_storage=env.get(
            "MARKET_ASSETS_OPTUNA_URL", f"sqlite:///{REPO_ROOT / 'var' / 'optuna.db'}"
        ),
    )
