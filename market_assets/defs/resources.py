"""Resources: the configured price source and validation thresholds."""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field

from market_assets.sources import PriceSource, build_source

# Options each source kind accepts from this resource (besides ``symbols``).
_OPTIONS_BY_KIND: dict[str, tuple[str, ...]] = {
    "synthetic": (
        "seed", "n_symbols", "start", "end", "calendar",
        "regime_shift_date", "signal_strength", "defects",
    ),
    "bundled": (),
    "files": ("directory",),
    "stooq": ("base_url",),
    "alpha_vantage": ("base_url", "api_key_env"),
}


class PriceSourceResource(dg.ConfigurableResource):
    """Which provider feeds ``raw_prices``, and how it is configured.

    Only the fields that apply to ``kind`` are passed on; the rest are ignored.
    API keys never pass through here: ``api_key_env`` names the environment
    variable the provider reads.
    """

    kind: str = Field(
        default="synthetic",
        description="synthetic | bundled | files | stooq | alpha_vantage",
    )
    symbols: list[str] | None = Field(
        default=None, description="Universe; None means the source's default universe."
    )
    seed: int = Field(default=7, description="synthetic: random seed (same seed, same market).")
    n_symbols: int = Field(default=50, description="synthetic: universe size.")
    start: str = Field(default="2015-01-02", description="synthetic: first simulated session.")
    end: str = Field(default="2026-12-31", description="synthetic: last simulated session.")
    calendar: str = Field(default="XNYS", description="synthetic: exchange calendar of the sessions.")
    regime_shift_date: str | None = Field(
        default=None, description="synthetic: date after which volatility and betas change."
    )
    signal_strength: float = Field(
        default=0.0, description="synthetic: rank IC of the planted predictable component (0 = none)."
    )
    defects: float = Field(
        default=0.0,
        description="synthetic: share of rows given a defect (bad tick, high < low, duplicate, "
        "missing row, 90% drop without a split); 0 is a clean market.",
    )
    directory: str | None = Field(default=None, description="files: directory of per-symbol files.")
    base_url: str | None = Field(default=None, description="stooq / alpha_vantage: endpoint override.")
    api_key_env: str = Field(
        default="ALPHA_VANTAGE_API_KEY",
        description="alpha_vantage: name of the environment variable holding the API key.",
    )

    def build(self) -> PriceSource:
        """Construct the configured :class:`PriceSource`."""
        if self.kind not in _OPTIONS_BY_KIND:
            raise ValueError(
                f"price source kind {self.kind!r} is unknown; expected one of {sorted(_OPTIONS_BY_KIND)}"
            )
        options: dict[str, Any] = {
            name: getattr(self, name)
            for name in _OPTIONS_BY_KIND[self.kind]
            if getattr(self, name) is not None
        }
        if self.symbols is not None:
            options["symbols"] = list(self.symbols)
        return build_source(self.kind, **options)


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
        default="http://127.0.0.1:5000",
        description="MLflow UI that asset metadata links to (`make mlflow-ui` serves the local store there).",
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
