"""Cross-sectional (per-date) ranks and z-scores of key features.

For each session the feature is ranked among the symbols that have a value
that day: ``cs_rank_x = rank / count`` with ties averaged, in ``(0, 1]``;
``cs_z_x = (x - mean) / std`` (ddof=1), null if fewer than two symbols or a
zero spread.  Only same-date values enter, so these are point in time; their
warm-up is that of the underlying feature.
"""

from __future__ import annotations

import polars as pl

from market_assets.quant.indicators.registry import FeatureSpec

KEY_FEATURES: dict[str, int] = {
    "ret_1": 1, "ret_5": 5, "ret_20": 20, "rsi_14": 14, "vol_20": 20, "volume_ratio_20": 19,
    "close_to_sma_20": 19, "mfi_14": 14,
}


def _rank(name: str) -> pl.Expr:
    x = pl.col(name)
    return (x.rank("average") / x.count()).over("date")


def _zscore(name: str) -> pl.Expr:
    x = pl.col(name)
    sd = x.std(ddof=1)
    return pl.when(sd > 0).then((x - x.mean()) / sd).over("date")


def specs() -> list[FeatureSpec]:
    """All cross-sectional feature specs."""
    out = []
    for name, warm in KEY_FEATURES.items():
        out += [
            FeatureSpec(f"cs_rank_{name}", "cross_section", f"Per-date percentile rank of {name} (ties averaged).",
                        warm, cross_section=lambda name=name: _rank(name), depends=(name,)),
            FeatureSpec(f"cs_z_{name}", "cross_section", f"Per-date z-score of {name} (ddof=1).", warm,
                        cross_section=lambda name=name: _zscore(name), depends=(name,)),
        ]
    return out
