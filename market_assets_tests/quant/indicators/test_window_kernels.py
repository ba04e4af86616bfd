"""Rolling kernels on time-major matrices against naive per-window references."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import polars as pl
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from market_assets.quant.indicators import order_stats
from market_assets.quant.indicators.chunk import Chunk

WINDOWS = (1, 2, 3, 5, 7, 10, 20, 30, 60)


def _matrix(seed: int = 0, n_t: int = 150, n_sym: int = 4, nan: bool = True) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = 100.0 + np.cumsum(rng.normal(0, 1, (n_t, n_sym)), axis=0)
    x[:, 1] = np.round(x[:, 1])  # ties
    if nan:
        x[17, 2] = np.nan
    return x


def _naive(x: np.ndarray, d: int, fn) -> np.ndarray:
    """``fn`` over each full window (axis -1 of the window view), NaN on the first ``d - 1`` rows."""
    out = np.full_like(x, np.nan)
    if len(x) >= d:
        out[d - 1:] = fn(sliding_window_view(x, d, axis=0))
    return out


@pytest.mark.parametrize("d", WINDOWS)
def test_sums_moments_and_extremes_match_naive_windows(d: int) -> None:
    x = _matrix()
    y = _matrix(seed=1, nan=False)
    k = Chunk({"x": x, "y": y})
    tol = {"rtol": 1e-12, "atol": 1e-9, "equal_nan": True}
    np.testing.assert_allclose(k.sum("x", d), _naive(x, d, lambda w: w.sum(-1)), **tol)
    np.testing.assert_allclose(k.mean("y", d), _naive(y, d, lambda w: w.mean(-1)), **tol)
    np.testing.assert_array_equal(k.max("x", d), _naive(x, d, lambda w: w.max(-1)))
    np.testing.assert_array_equal(k.min("x", d), _naive(x, d, lambda w: w.min(-1)))
    weights = np.arange(1.0, d + 1.0)
    np.testing.assert_allclose(k.wsum("x", d), _naive(x, d, lambda w: (w * weights).sum(-1)), **tol)
    if d > 1:
        np.testing.assert_allclose(k.var("x", d, 1), _naive(x, d, lambda w: w.var(-1, ddof=1)), **tol)
        wx, wy = sliding_window_view(x, d, axis=0), sliding_window_view(y, d, axis=0)
        cov = np.full_like(x, np.nan)
        cov[d - 1:] = ((wx - wx.mean(-1, keepdims=True)) * (wy - wy.mean(-1, keepdims=True))).sum(-1)
        np.testing.assert_allclose(k.comoment("x", "y", d), cov, **tol)


@pytest.mark.parametrize("d", WINDOWS)
def test_first_extreme_position_and_percentile_rank(d: int) -> None:
    x = _matrix(nan=False)
    k = Chunk({"x": x})
    np.testing.assert_array_equal(k.argmax("x", d), _naive(x, d, lambda w: w.argmax(-1) + 1.0))
    np.testing.assert_array_equal(k.argmin("x", d), _naive(x, d, lambda w: w.argmin(-1) + 1.0))
    def pandas_pct_rank(w: np.ndarray) -> np.ndarray:  # (#less + (#equal + 1) / 2) / d, #equal counts itself
        last = w[..., -1:]
        return ((w < last).sum(-1) + ((w == last).sum(-1) + 1.0) / 2.0) / d
    np.testing.assert_array_equal(k.rank("x", d), _naive(x, d, pandas_pct_rank))


def test_variance_has_no_cancellation_at_large_levels() -> None:
    """A window with mean 1e8 and spread ~1: exact centred moments, not sum(x^2) - sum(x)^2 / d."""
    x = 1e8 + np.array([[0.0], [1.0], [2.0], [4.0], [8.0], [3.0]])
    var = Chunk({"x": x}).var("x", 5, 0)
    for t in (4, 5):
        window = [Fraction(float(v)) for v in x[t - 4:t + 1, 0]]
        mean = sum(window) / 5
        assert var[t, 0] == pytest.approx(float(sum((v - mean) ** 2 for v in window) / 5), rel=1e-14)
    naive = (x[1:6] ** 2).mean() - x[1:6].mean() ** 2  # what sum(x^2)/d - mean^2 would give
    assert abs(naive - var[5, 0]) > 1e-3 * var[5, 0]


@pytest.mark.parametrize("d", (2, 5, 10, 20, 30, 40, 60))
def test_quantiles_match_polars_exactly(d: int) -> None:
    x = _matrix()
    x[60:70, 3] = 5.0  # a flat stretch: many ties
    got = order_stats.quantiles(x, d, (0.2, 0.8))
    for out, q in zip(got, (0.2, 0.8)):
        expected = pl.DataFrame(x, nan_to_null=True).select(pl.all().rolling_quantile(q, "linear", d)).to_numpy()
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("n", range(2, 41))
def test_selection_network_selects_the_requested_ranks(n: int) -> None:
    ranks = tuple(sorted({0, n // 5, n // 2, n - 1}))
    network = order_stats.selection_network(n, ranks)
    values = np.random.default_rng(n).integers(0, 5, (500, n)).astype(float)  # many ties
    wires = [values[:, i].copy() for i in range(n)]
    for i, j in network:
        wires[i], wires[j] = np.minimum(wires[i], wires[j]), np.maximum(wires[i], wires[j])
    ordered = np.sort(values, axis=1)
    for r in ranks:
        np.testing.assert_array_equal(wires[r], ordered[:, r])


def test_kernels_on_series_shorter_than_the_window() -> None:
    x = _matrix(n_t=3, nan=False)
    k = Chunk({"x": x})
    for result in (k.sum("x", 5), k.var("x", 5, 1), k.max("x", 5), k.argmax("x", 5), k.wsum("x", 5),
                   k.rank("x", 5), k.lag("x", 5), *order_stats.quantiles(x, 5, (0.2, 0.8))):
        assert result.shape == x.shape and np.isnan(result).all()
