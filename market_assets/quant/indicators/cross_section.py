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


def _order_key(values: np.ndarray) -> np.ndarray:
    """int64 keys that sort like the floats (NaN last, -0.0 equal to 0.0): argsort on them is much faster."""
    x = values + 0.0  # -0.0 -> 0.0
    x[np.isnan(x)] = np.inf  # no feature value is infinite (the engine nulls them)
    key = x.view(np.int64)
    return key ^ ((key >> 63) & np.int64(0x7FFF_FFFF_FFFF_FFFF))


def rank_grid(grid: np.ndarray) -> np.ndarray:
    """Per-row average rank (1-based, ties averaged) divided by the row's non-null count."""
    n_sym = grid.shape[1]
    order = np.argsort(_order_key(grid), axis=1)  # NaN last
    ordered = np.take_along_axis(grid, order, axis=1)
    position = np.broadcast_to(np.arange(1.0, n_sym + 1.0), grid.shape)
    tied = ordered[:, 1:] == ordered[:, :-1]
    if tied.any():  # average rank of each run of equal values: (first + last) / 2
        starts = np.ones(grid.shape, dtype=bool)
        starts[:, 1:] = ~tied
        ends = np.ones(grid.shape, dtype=bool)
        ends[:, :-1] = ~tied
        first = np.maximum.accumulate(np.where(starts, position, 0.0), axis=1)
        last = np.minimum.accumulate(np.where(ends, position, n_sym)[:, ::-1], axis=1)[:, ::-1]
        position = (first + last) / 2.0
    ranks = np.empty(grid.shape)
    np.put_along_axis(ranks, order, position, axis=1)
    valid = ~np.isnan(grid)
    ranks[~valid] = np.nan
    return ranks / valid.sum(axis=1, keepdims=True)


def zscore_grid(grid: np.ndarray) -> np.ndarray:
    """Per-row ``(x - mean) / std`` (ddof=1); NaN if the row has < 2 values or no spread."""
    valid = ~np.isnan(grid)
    count = valid.sum(axis=1, keepdims=True)
    filled = np.where(valid, grid, 0.0)
    mean = filled.sum(axis=1, keepdims=True) / count
    dev = grid - mean
    np.multiply(dev, dev, out=filled)
    filled[~valid] = 0.0
    sd = np.sqrt(filled.sum(axis=1, keepdims=True) / (count - 1))
    sd[~(sd > 0)] = np.nan
    return dev / sd


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
