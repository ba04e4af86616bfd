"""Feature entry point: ``compute_features``, ``feature_names``, ``FEATURE_SPECS``, ``max_warmup``.

See :mod:`market_assets.quant.indicators` for the feature families and their
conventions.
"""

from __future__ import annotations

from market_assets.quant.indicators import (
    FEATURE_SPECS,
    FeatureSpec,
    TalibCall,
    compute_features,
    feature_names,
    max_warmup,
)

__all__ = ["FEATURE_SPECS", "FeatureSpec", "TalibCall", "compute_features", "feature_names", "max_warmup"]
