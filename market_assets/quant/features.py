"""Feature entry point: ``compute_features``, ``feature_names``, ``FEATURE_SPECS``, ``max_warmup``.

See :mod:`market_assets.quant.indicators` for the feature groups and their
conventions, and :mod:`market_assets.quant.indicators.relations` for aliases
(affine copies, not stored in ``feature_table``) and families (monotone
transforms of one signal).
"""

from __future__ import annotations

from market_assets.quant.indicators import (
    FEATURE_SPECS,
    Alias,
    FeatureSpec,
    TalibCall,
    canonical_feature_names,
    compute_features,
    family_members,
    feature_families,
    feature_names,
    max_warmup,
)

__all__ = [
    "FEATURE_SPECS", "Alias", "FeatureSpec", "TalibCall", "canonical_feature_names", "compute_features",
    "family_members", "feature_families", "feature_names", "max_warmup",
]
