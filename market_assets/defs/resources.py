"""Resources: the configured price source, the MLflow and Optuna stores."""

# No `from __future__ import annotations` here: Dagster recognises a ResourceDependency
# field by its evaluated annotation, which a string annotation would hide.
import os
import re
from typing import Any

import dagster as dg
from pydantic import Field, create_model, model_validator

from market_assets.settings import LOCAL_MLFLOW_UI, SOURCE_SETTINGS, Settings
from market_assets.sources import SourceKind, SourceOptionError, configurable_options, declared_options
from market_assets.sources.base import PriceSource
from market_assets.sources.deployment import SourceDeployment

# Options a run may set, declared once by the source classes: name -> (declaration, kinds).
RUN_OPTIONS = configurable_options(per_run=True)
DEPLOYMENT_OPTIONS = configurable_options(per_run=False)


def from_environment(settings: Settings, variable: str, value: str) -> str | dg.EnvVar:
    """``dg.EnvVar(variable)`` when the deployment set ``variable``, else ``value``.

    For values that may carry credentials (database and server URLs): the
    launchpad then shows ``{env: VARIABLE}`` instead of the value, and Dagster
    reads the variable when the run starts.  An unset variable means the local
    default, which holds no secret and is passed as is: ``dg.EnvVar`` of an
    unset variable would fail the run.
    """
    return dg.EnvVar(variable) if variable in settings.variables_set else value


def _option_field(name: str) -> tuple[Any, Any]:
    option, kinds = RUN_OPTIONS[name]
    by_text: dict[str, list[str]] = {}
    for kind in kinds:
        by_text.setdefault(declared_options(kind)[name].description, []).append(kind)
    described = "; ".join(f"{', '.join(ks)}: {text}" for text, ks in by_text.items())
    return option.type | None, Field(default=None, description=f"{described}. Unset: the deployment's.")


# The config a run may set: `kind`, then one optional field per option the source classes
# declare per_run (their ``OPTIONS``), generated so that each option is defined once.
_PriceSourceConfig = create_model(
    "_PriceSourceConfig",
    __base__=dg.ConfigurableResource,
    __module__=__name__,
    kind=(
        SourceKind | None,
        Field(
            default=None,
            description="Price source kind; unset: the deployment's. Another kind than the deployment's is "
            "refused unless the deployment allows switching (MARKET_ASSETS_ENV=local).",
        ),
    ),
    **{name: _option_field(name) for name in RUN_OPTIONS},
)


#: Environment variables whose values are secrets (names as deployments spell them).
_SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|KEY|CREDENTIAL|AUTH", re.IGNORECASE)


class SecretInConfigError(PermissionError):
    """Run config holds the value of a secret environment variable (e.g. through ``{env: VAR}``).

    Not a ``ValueError``: pydantic would wrap that and quote the input, secret included.
    """


def _refuse_secret_values(data: dict) -> None:
    """Refuse a field whose value is a secret variable's value, naming the field and the variable, never the value."""
    secrets = {value: name for name, value in os.environ.items() if _SECRET_NAME.search(name) and len(value) >= 6}
    for field, value in data.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, str) and item in secrets:
                raise SecretInConfigError(
                    f"price_source: field {field!r} holds the value of the environment variable {secrets[item]} "
                    "(a run config {env: ...} reference?); price_source fields never read secrets, so the run is "
                    "refused and the value is not shown"
                )


class PriceSourceResource(_PriceSourceConfig):
    """Which provider feeds ``raw_prices``: the deployment's, refined by the run.

    The deployment (settings: ``MARKET_ASSETS_SOURCE``, ``MARKET_ASSETS_SYMBOLS``,
    ``MARKET_ASSETS_SOURCE_BASE_URL``, …) decides the kind and every option;
    a run's config may only refine the options below, each unset meaning the
    deployment's value.  A run may name another ``kind`` only where the
    deployment allows it (``MARKET_ASSETS_ENV=local``).  Where a provider
    connects and which variable holds its key (``base_url``, ``api_key_env``)
    are never run config: the config schema refuses them.  Fields that do not
    apply to the resolved kind are ignored.
    """

    deployment: dg.ResourceDependency[SourceDeployment] = Field(
        default_factory=SourceDeployment,
        description="The deployment's price source (from the settings); not run config. Code that builds "
        "the resource without one describes the source with the fields (any kind).",
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            _refuse_secret_values(data)
            fixed = sorted(set(data) & set(DEPLOYMENT_OPTIONS))
            if fixed:
                settings = ", ".join(SOURCE_SETTINGS[name] for name in fixed)
                raise ValueError(
                    f"price_source: {fixed} are decided by the deployment ({settings}), never by resource or "
                    "run config: they choose which host a provider calls and which variable holds its key; "
                    "in code, pass a SourceDeployment as `deployment`"
                )
            unknown = sorted(set(data) - set(cls.model_fields))
            if unknown:
                raise ValueError(f"price_source: unknown field(s) {unknown}; valid fields: {sorted(cls.model_fields)}")
        return data

    @model_validator(mode="after")
    def _refine_the_deployment(self) -> "PriceSourceResource":
        try:
            self.deployment.resolve(self._kind(), self.refinements())
        except SourceOptionError as exc:
            raise ValueError(f"price_source config is refused: {exc}") from None
        return self

    @classmethod
    def from_deployment(cls, deployment: SourceDeployment) -> "PriceSourceResource":
        """The resource of ``deployment``; the launchpad shows the deployment's values as defaults."""
        given = deployment.options.get(deployment.kind, {})
        shown = {name: given[name] for name in RUN_OPTIONS if given.get(name) is not None}
        return cls(deployment=deployment, kind=deployment.kind, **shown)

    def _kind(self) -> str | None:
        return None if self.kind is None else self.kind.value

    def refinements(self) -> dict[str, Any]:
        """The options this run sets (unset ones omitted)."""
        return {name: getattr(self, name) for name in RUN_OPTIONS if getattr(self, name) is not None}

    def build(self) -> PriceSource:
        """Construct the :class:`PriceSource` of the deployment, refined by this config."""
        return self.deployment.build(self._kind(), self.refinements())


class MlflowResource(dg.ConfigurableResource):
    """Where models are tracked and registered (MLflow)."""

    tracking_uri: str = Field(
        description="MLflow tracking and registry URI: sqlite:///… locally, a server URL or "
        "postgresql+psycopg2://… in production."
    )
    experiment: str = Field(default="market_assets", description="MLflow experiment name.")
    artifact_root: str | None = Field(
        default=None,
        description="Where model files go (s3://…, a shared path); required with a database "
        "tracking URI other than SQLite, which defaults to an artifacts folder beside its file.",
    )
    ui_url: str | None = Field(
        default=LOCAL_MLFLOW_UI,
        description="MLflow UI that asset metadata links to (the deployment sets it from "
        "MARKET_ASSETS_MLFLOW_UI_URL); none: an http(s) tracking server is its own UI, other stores get no link.",
    )

    def tracking(self):
        """The :class:`market_assets.tracking.TrackingConfig` of this resource."""
        from market_assets.tracking.mlflow_store import TrackingConfig

        return TrackingConfig(
            tracking_uri=self.tracking_uri, experiment=self.experiment, artifact_root=self.artifact_root,
            ui_url=self.ui_url,
        )


class OptunaResource(dg.ConfigurableResource):
    """Where Optuna studies persist (an RDB URL shared by every tuning worker)."""

    storage: str = Field(description="sqlite:///… locally, postgresql+psycopg2://… in production.")
