"""Cross-sectional (per-date) ranks and z-scores of key features.

For each session the feature is ranked among the symbols that have a value
that day: ``cs_rank_x = rank / count`` with ties averaged, in ``(0, 1]``;
``cs_z_x = (x - mean) / std`` (ddof=1), null if fewer than two symbols or a
zero spread.  Only same-date values enter, so these are point in time; their
warm-up is that of the underlying feature.

Both work on a ``(dates × symbols)`` grid of the feature, NaN where it is null
or the symbol has no row that day; each date (row) is computed on its own.
"""

from __future__ import annotations

import numpy as np

from market_assets.quant.indicators.registry import FeatureSpec

KEY_FEATURES: dict[str, int] = {
    "ret_1": 1, "ret_5": 5, "ret_20": 20, "rsi_14": 14, "vol_20": 20, "volume_ratio_20": 19,
    "close_to_sma_20": 19, "mfi_14": 14,
}


def rank_grid(grid: np.ndarray) -> np.ndarray:
    """Per-row average rank (1-based, ties averaged) divided by the row's non-null count."""
    n_sym = grid.shape[1]
    order = np.argsort(grid, axis=1, kind="stable")  # NaN last
    ordered = np.take_along_axis(grid, order, axis=1)
    cols = np.broadcast_to(np.arange(n_sym), grid.shape)
    starts = np.ones(grid.shape, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ends = np.ones(grid.shape, dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, cols, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, cols, n_sym - 1)[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty(grid.shape)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=1)
    valid = ~np.isnan(grid)
    ranks[~valid] = np.nan
    return ranks / valid.sum(axis=1, keepdims=True)


def zscore_grid(grid: np.ndarray) -> np.ndarray:
    """Per-row ``(x - mean) / std`` (ddof=1); NaN if the row has < 2 values or no spread."""
    valid = ~np.isnan(grid)
    count = valid.sum(axis=1, keepdims=True)
    mean = np.where(valid, grid, 0.0).sum(axis=1, keepdims=True) / count
    dev = np.where(valid, grid - mean, 0.0)
    sd = np.sqrt((dev * dev).sum(axis=1, keepdims=True) / (count - 1))
    return np.where(sd > 0, (grid - mean) / sd, np.nan)


def specs() -> list[FeatureSpec]:
    """All cross-sectional feature specs."""
    out = []
    for name, warm in KEY_FEATURES.items():
        out += [
            FeatureSpec(f"cs_rank_{name}", "cross_section", f"Per-date percentile rank of {name} (ties averaged).",
                        warm, cross_section=rank_grid, depends=(name,)),
            FeatureSpec(f"cs_z_{name}", "cross_section", f"Per-date z-score of {name} (ddof=1).", warm,
                        cross_section=zscore_grid, depends=(name,)),
        ]
    return out
