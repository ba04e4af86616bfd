"""The one place that reads the environment.

Everything that differs between a laptop, the test suite and production is
decided here, once, from ``MARKET_ASSETS_*`` variables; assets and resources
receive the resulting values and never call ``os.getenv`` themselves.

======================================  ==============================  =========================================
variable                                default                         meaning
======================================  ==============================  =========================================
``MARKET_ASSETS_ENV``                   ``local``                       ``local``, ``test`` or ``production``
                                                                        (see "Environments" below)
``MARKET_ASSETS_DATA_ROOT``             ``<repo>/var/data``             Parquet root: a path or a UPath URL
                                                                        (``s3://bucket/prefix``)
``MARKET_ASSETS_CALENDAR``              ``XNYS``                        exchange_calendars code of the market
``MARKET_ASSETS_START``                 ``2016-01-04``                  first daily partition (a session)
``MARKET_ASSETS_SOURCE``                ``synthetic``                   price source kind (see ``sources``)
``MARKET_ASSETS_SYMBOLS``               (source default)                comma-separated universe
``MARKET_ASSETS_SOURCE_BASE_URL``       (provider's own)                endpoint of an HTTP source (stooq,
                                                                        alpha_vantage): the only host it calls
``MARKET_ASSETS_SOURCE_DIRECTORY``      (none)                          directory of the ``files`` source
``MARKET_ASSETS_ALPHA_VANTAGE_KEY_ENV`` ``ALPHA_VANTAGE_API_KEY``       variable that holds the Alpha Vantage key
``MARKET_ASSETS_MLFLOW_URI``            ``sqlite:///<repo>/var/…``      MLflow tracking + registry URI
``MARKET_ASSETS_MLFLOW_ARTIFACTS``      (beside the SQLite file)        MLflow artifact root (s3://…, a path)
``MARKET_ASSETS_MLFLOW_UI_URL``         ``http://127.0.0.1:5000``       MLflow UI that metadata links to (local
                                        (none in production)            and test); empty: no links
``MARKET_ASSETS_OPTUNA_URL``            ``sqlite:///<repo>/var/…``      Optuna study storage (RDB URL)
``MARKET_ASSETS_CACHE_DIR``             ``$DAGSTER_HOME/market_assets_  small caches (calendar facts); without
                                        cache``                         DAGSTER_HOME the user cache directory
``MARKET_ASSETS_ALERT_WEBHOOK_URL``     (none: alerts off)              Slack-compatible webhook that run and
                                                                        check failures are posted to (a secret)
``MARKET_ASSETS_UI_URL``                ``http://127.0.0.1:3000``       Dagster UI base that alerts link to
``MARKET_ASSETS_FRESHNESS_DEADLINE``    ``30 20 * * 1-5``               cron (exchange time zone) by which the
                                                                        latest session must be materialized
``MARKET_ASSETS_CELERY_BROKER``         (none: no Celery)               Celery broker URL: ``redis://host:6379/0``
                                                                        or ``pyamqp://user:password@host:5672//``
                                                                        (RabbitMQ); read by ``defs.executors``
``MARKET_ASSETS_CELERY_BACKEND``        (none)                          Celery result backend URL, required with
                                                                        a broker: ``redis://host:6379/1``, or
                                                                        ``rpc://`` with RabbitMQ; read by
                                                                        ``defs.executors``
======================================  ==============================  =========================================

Environments
------------
``local``
    Everything may stay on this machine, and a run may switch the price
    source's kind in its config (to try another source from the launchpad).
``test``
    Local stores allowed; a run may refine the deployment's source but not
    switch its kind.
``production``
    Refuses local stores: an SQLite (or file) MLflow or Optuna store and a
    local data root, since run workers on other machines would each see their
    own copy; refuses a plain-``http`` source endpoint (keys travel only over
    https); runs may not switch the source's kind.

Secrets never live here: the Alpha Vantage key stays in the variable
``MARKET_ASSETS_ALPHA_VANTAGE_KEY_ENV`` names, read by the source when it
fetches; URLs that may carry credentials (MLflow, Optuna) reach Dagster as
``dg.EnvVar`` when set (see ``market_assets.defs.resources.from_environment``).
The alert webhook URL carries its token in the path: it is kept out of the
settings' repr and out of every message, even a refusal of its value.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from market_assets.sources.deployment import SourceDeployment
from market_assets.sources.http import check_base_url, hide_password

ENVIRONMENTS = ("local", "test", "production")
REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_MLFLOW_UI = "http://127.0.0.1:5000"  # where `make mlflow-ui` serves the local store
LOCAL_DAGSTER_UI = "http://127.0.0.1:3000"  # where `dagster dev` serves the UI
DEFAULT_KEY_ENV = "ALPHA_VANTAGE_API_KEY"

#: The setting behind each price-source option, named in messages.
SOURCE_SETTINGS: Mapping[str, str] = {
    "kind": "MARKET_ASSETS_SOURCE",
    "symbols": "MARKET_ASSETS_SYMBOLS",
    "base_url": "MARKET_ASSETS_SOURCE_BASE_URL",
    "directory": "MARKET_ASSETS_SOURCE_DIRECTORY",
    "api_key_env": "MARKET_ASSETS_ALPHA_VANTAGE_KEY_ENV",
    "calendar": "MARKET_ASSETS_CALENDAR",
    "allow_kind_switch": "MARKET_ASSETS_ENV=local",
}
#: The embedded synthetic market demonstrates validation with a few defects and
#: gives models something to find: a planted signal of rank IC 0.1.
SYNTHETIC_DEMO = {"defects": 0.001, "signal_strength": 0.1}
VARIABLES = (
    "MARKET_ASSETS_ENV", "MARKET_ASSETS_DATA_ROOT", "MARKET_ASSETS_CALENDAR", "MARKET_ASSETS_START",
    "MARKET_ASSETS_SOURCE", "MARKET_ASSETS_SYMBOLS", "MARKET_ASSETS_SOURCE_BASE_URL",
    "MARKET_ASSETS_SOURCE_DIRECTORY", "MARKET_ASSETS_ALPHA_VANTAGE_KEY_ENV", "MARKET_ASSETS_MLFLOW_URI",
    "MARKET_ASSETS_MLFLOW_ARTIFACTS", "MARKET_ASSETS_MLFLOW_UI_URL", "MARKET_ASSETS_OPTUNA_URL",
    "MARKET_ASSETS_CACHE_DIR", "MARKET_ASSETS_FRESHNESS_DEADLINE", "MARKET_ASSETS_ALERT_WEBHOOK_URL", "MARKET_ASSETS_UI_URL",
    # read and checked with the executor (market_assets.defs.executors.load_celery_settings), listed so that
    # this tuple documents every MARKET_ASSETS_* variable
    "MARKET_ASSETS_CELERY_BROKER", "MARKET_ASSETS_CELERY_BACKEND",
)  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """Deployment settings, fixed when the code location loads."""

    environment: str
    data_root: str
    calendar: str
    start_date: dt.date
    source: str
    symbols: tuple[str, ...] | None
    source_base_url: str | None
    source_directory: str | None
    alpha_vantage_key_env: str
    mlflow_tracking_uri: str
    mlflow_artifact_root: str | None
    mlflow_ui_url: str | None
    optuna_storage: str
    cache_dir: Path
    #: where run and check failures are posted; None: alerts off (a secret: not in repr)
    alert_webhook_url: str | None = field(repr=False)
    #: the Dagster UI that alerts link to, without a trailing slash
    ui_url: str
    freshness_deadline_cron: str
    #: the price source this deployment runs, and what a run may change of it
    price_source: SourceDeployment
    #: the variables of :data:`VARIABLES` that were set (non-empty)
    variables_set: frozenset[str]


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read :class:`Settings` from ``environ`` (default: ``os.environ``).

    Raises
    ------
    ValueError
        Naming the variable, the value found and what was expected.
    """
    env = os.environ if environ is None else environ
    given = {name: env[name].strip() for name in VARIABLES if env.get(name, "").strip()}
    environment = given.get("MARKET_ASSETS_ENV", "local")
    if environment not in ENVIRONMENTS:
        raise ValueError(f"MARKET_ASSETS_ENV={environment!r}: expected one of {list(ENVIRONMENTS)}")
    symbols_text = given.get("MARKET_ASSETS_SYMBOLS", "")
    source = {
        "source": given.get("MARKET_ASSETS_SOURCE", "synthetic"),
        "symbols": tuple(s.strip() for s in symbols_text.split(",") if s.strip()) or None,
        "source_base_url": given.get("MARKET_ASSETS_SOURCE_BASE_URL"),
        "source_directory": given.get("MARKET_ASSETS_SOURCE_DIRECTORY"),
        "alpha_vantage_key_env": given.get("MARKET_ASSETS_ALPHA_VANTAGE_KEY_ENV", DEFAULT_KEY_ENV),
    }
    calendar = given.get("MARKET_ASSETS_CALENDAR", "XNYS")
    settings = Settings(
        environment=environment,
        data_root=given.get("MARKET_ASSETS_DATA_ROOT", str(REPO_ROOT / "var" / "data")),
        calendar=calendar,
        start_date=_start_date(given.get("MARKET_ASSETS_START", "2016-01-04")),
        **source,
        mlflow_tracking_uri=given.get(
            "MARKET_ASSETS_MLFLOW_URI", f"sqlite:///{REPO_ROOT / 'var' / 'mlflow' / 'mlflow.db'}"
        ),
        mlflow_artifact_root=given.get("MARKET_ASSETS_MLFLOW_ARTIFACTS"),
        mlflow_ui_url=_mlflow_ui_url(env, environment),
        optuna_storage=given.get("MARKET_ASSETS_OPTUNA_URL", f"sqlite:///{REPO_ROOT / 'var' / 'optuna.db'}"),
        cache_dir=_cache_dir(env),
        alert_webhook_url=_alert_webhook_url(given.get("MARKET_ASSETS_ALERT_WEBHOOK_URL")),
        ui_url=check_base_url(given.get("MARKET_ASSETS_UI_URL", LOCAL_DAGSTER_UI), option="MARKET_ASSETS_UI_URL")
        .rstrip("/"),
        freshness_deadline_cron=_cron(given.get("MARKET_ASSETS_FRESHNESS_DEADLINE", "30 20 * * 1-5")),
        price_source=_price_source(
            environment=environment, calendar=calendar,
            start_date=_start_date(given.get("MARKET_ASSETS_START", "2016-01-04")), **source,
        ),
        variables_set=frozenset(given),
    )
    if environment == "production":
        _refuse_local_stores(settings)
    return settings


def _start_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"MARKET_ASSETS_START={text!r}: expected an ISO date such as 2016-01-04") from None


def _cron(text: str) -> str:
    """A five-field cron expression (checked by Dagster's own parser), else ValueError naming the variable."""
    from dagster._utils.schedules import is_valid_cron_string

    if not is_valid_cron_string(text):
        raise ValueError(f"MARKET_ASSETS_FRESHNESS_DEADLINE={text!r}: expected a cron such as '30 20 * * 1-5' "
                         "(20:30 on weekdays, in the exchange's time zone)")
    return text


def _mlflow_ui_url(env: Mapping[str, str], environment: str) -> str | None:
    """The MLflow UI base for links; the local one by default, none in production."""
    if "MARKET_ASSETS_MLFLOW_UI_URL" not in env:
        return None if environment == "production" else LOCAL_MLFLOW_UI
    url = env["MARKET_ASSETS_MLFLOW_UI_URL"].strip()
    if not url:
        return None
    try:
        return check_base_url(url, option="MARKET_ASSETS_MLFLOW_UI_URL")
    except ValueError as exc:
        raise ValueError(f"{exc} (or empty for no links)") from None


def _alert_webhook_url(url: str | None) -> str | None:
    """The webhook URL, or None; a refusal never shows the value (its path is the token)."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an invalid port
        valid = False
    if not valid:
        raise ValueError(
            "MARKET_ASSETS_ALERT_WEBHOOK_URL: expected an http:// or https:// URL with a host (value not shown: "
            "a webhook URL holds its token); or unset it to turn alerts off"
        )
    return url


def _cache_dir(env: Mapping[str, str]) -> Path:
    """Where small caches go: the setting, else under DAGSTER_HOME, else the user's cache
    directory; never inside the installed package (which may be read-only or shared)."""
    if env.get("MARKET_ASSETS_CACHE_DIR", "").strip():
        return Path(env["MARKET_ASSETS_CACHE_DIR"]).expanduser()
    if env.get("DAGSTER_HOME", "").strip():
        return Path(env["DAGSTER_HOME"]).expanduser() / "market_assets_cache"
    base = env.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base).expanduser() / "market_assets"


def demo_regime_shift(start_date: dt.date) -> dt.date:
    """When the demo market's regime shifts: about 22 months after the first partition.

    Inside the demo's two-year window and a few weeks before its weekly models
    start, so the UI shows drift checks failing after the shift and the retrain
    sensor reacting.  Fixed by the start date, so the market never changes under
    stored partitions.
    """
    return start_date + dt.timedelta(days=670)


def _price_source(
    *,
    environment: str,
    calendar: str,
    start_date: dt.date,
    source: str,
    symbols: tuple[str, ...] | None,
    source_base_url: str | None,
    source_directory: str | None,
    alpha_vantage_key_env: str,
) -> SourceDeployment:
    """The deployment's price source; ValueError naming the variable at fault.

    Every kind a run may reach gets the deployment's values for it (the demo
    market's calendar and defects, the variable that holds the Alpha Vantage
    key); symbols, endpoint and directory belong to the deployment's own kind.
    Only ``local`` lets a run switch kinds.
    """
    options: dict[str, dict[str, object]] = {
        "synthetic": {"calendar": calendar, **SYNTHETIC_DEMO,
                      "regime_shift_date": demo_regime_shift(start_date).isoformat()},
        "alpha_vantage": {"api_key_env": alpha_vantage_key_env},
    }
    own = {"symbols": list(symbols) if symbols else None, "base_url": source_base_url, "directory": source_directory}
    options[source] = {**options.get(source, {}), **{k: v for k, v in own.items() if v is not None}}
    return SourceDeployment(
        kind=source, options=options, allow_kind_switch=environment == "local", names=SOURCE_SETTINGS
    )


def _is_local(url: str) -> bool:
    """A plain path, ``file:``, ``local:`` or ``memory:`` URL, or an SQLite database."""
    scheme = urlsplit(url).scheme.lower()
    return len(scheme) <= 1 or scheme in ("file", "local", "memory", "sqlite")  # "c:" is a Windows drive


def _refuse_local_stores(settings: Settings) -> None:
    """Production refuses what only this machine can see, and keys over plain http."""
    checks = (
        ("MARKET_ASSETS_MLFLOW_URI", settings.mlflow_tracking_uri,
         "an MLflow server (https://mlflow.example) or a database (postgresql+psycopg2://…)"),
        ("MARKET_ASSETS_OPTUNA_URL", settings.optuna_storage, "a database URL (postgresql+psycopg2://…)"),
        ("MARKET_ASSETS_DATA_ROOT", settings.data_root, "an object-store URL such as s3://bucket/prefix"),
    )  # fmt: skip
    for variable, value, expected in checks:
        if _is_local(value):
            origin = "" if variable in settings.variables_set else " (the default)"
            raise ValueError(
                f"{variable}={hide_password(value)!r}{origin} is local to this machine, and "
                f"MARKET_ASSETS_ENV=production refuses local stores: every run worker must reach the same "
                f"one; expected {expected}, or MARKET_ASSETS_ENV=local / test"
            )
    url = settings.source_base_url
    if url and urlsplit(url).scheme != "https":
        raise ValueError(
            f"MARKET_ASSETS_SOURCE_BASE_URL={hide_password(url)!r}: MARKET_ASSETS_ENV=production sends "
            "provider keys only over https; expected an https:// URL"
        )
