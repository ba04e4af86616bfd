"""A block of symbols as time-major matrices, with memoised intermediates (internal).

Every per-symbol feature is a NumPy *kernel* ``Chunk -> (sessions × symbols)``
matrix.  Row ``t`` of a chunk is every symbol's ``t``-th session (aligned by
position within the symbol, not by date); a symbol with fewer sessions is
padded with NaN at the end, which no backward-looking window ever reads.

Named series are the base columns (see :mod:`._frame`), recursion outputs
(``_ema_20`` ...), whole-panel outputs (``sar``) and *derived* series
registered with :func:`derived`.  Everything a kernel asks for (a series, a
lag, a rolling statistic) is computed once per chunk and memoised, so
features that share ``mean("_c", 20)`` or ``max("_h", 14)`` compute it once.
NaN plays polars' null: it propagates through arithmetic and windows, and
comparisons with it are false (polars' ``when(null)`` takes ``otherwise``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from market_assets.quant.indicators import window as w

Kernel = Callable[["Chunk"], np.ndarray]
DERIVED: dict[str, Kernel] = {}


def derived(name: str) -> Callable[[Kernel], Kernel]:
    """Register a named derived series, computed on first use in each chunk.

    Registering the same code again under the same name (a spec builder called
    twice) is allowed; two different functions under one name are refused.
    """
    def register(fn: Kernel) -> Kernel:
        known = DERIVED.get(name)
        if known is not None and known.__code__ is not fn.__code__:
            raise ValueError(f"derived series {name!r} is registered twice, by {known.__qualname__} and {fn.__qualname__}")
        DERIVED[name] = fn
        return fn
    return register


def safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den``, NaN (null) where ``den`` is zero (never ±inf)."""
    out = np.divide(num, den)
    out[den == 0] = np.nan
    return out


class Chunk:
    """Time-major ``(sessions × symbols)`` matrices of a block of symbols.

    Parameters
    ----------
    series
        Base matrices by name, all of the same shape (NaN-padded).
    """

    def __init__(self, series: dict[str, np.ndarray]) -> None:
        self._memo: dict[object, object] = dict(series)
        first = next(iter(series.values()))
        self.shape: tuple[int, int] = first.shape

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._memo:
            if name not in DERIVED:
                raise KeyError(f"unknown series {name!r}; known: base/recursion outputs "
                               f"{sorted(k for k in self._memo if isinstance(k, str))} and derived {sorted(DERIVED)}")
            self._memo[name] = DERIVED[name](self)
        return self._memo[name]  # type: ignore[return-value]

    def put(self, name: str, values: np.ndarray) -> None:
        """Add a named series (recursion or whole-panel output)."""
        self._memo[name] = values

    def memo(self, key: tuple, fn: Callable[[], object]) -> object:
        """``fn()`` computed once per chunk under ``key`` (for kernels sharing a multi-part result)."""
        if key not in self._memo:
            self._memo[key] = fn()
        return self._memo[key]

    def lag(self, name: str, k: int) -> np.ndarray:
        """``name`` ``k`` sessions ago (polars ``shift(k)``)."""
        return self.memo(("lag", name, k), lambda: w.lag(self[name], k))  # type: ignore[return-value]

    def _sums(self, name: str) -> w.Level:
        def level(k: int) -> np.ndarray:
            if k == 0:
                return self[name]
            return self.memo(("S", name, k), lambda: w.next_sum_level(level(k - 1), 1 << (k - 1)))  # type: ignore
        return level

    def _comoments(self, x: str, y: str) -> w.Level:
        sx, sy = self._sums(x), self._sums(y)
        same = x == y

        def level(k: int) -> np.ndarray:
            if k == 0:
                return self.memo(("C", x, y, 0),  # type: ignore[return-value]
                                 lambda: np.where(np.isnan(self[x]) | np.isnan(self[y]), np.nan, 0.0))
            return self.memo(("C", x, y, k),  # type: ignore[return-value]
                             lambda: w.next_comoment_level(sx(k - 1), sx(k - 1) if same else sy(k - 1),
                                                           level(k - 1), 1 << (k - 1)))
        return level

    def comoment(self, x: str, y: str, d: int) -> np.ndarray:
        """Rolling ``sum (x - mean x)(y - mean y)`` over ``d`` sessions (pairwise-stable)."""
        def compute() -> np.ndarray:
            sx = self._sums(x)
            sy = sx if x == y else self._sums(y)
            return w.window_comoment(sx, sy, self._comoments(x, y), d)
        return self.memo(("comoment", x, y, d), compute)  # type: ignore[return-value]

    def sum(self, name: str, d: int) -> np.ndarray:
        """Rolling sum over ``d`` sessions."""
        return self.memo(("sum", name, d), lambda: w.window_sum(self._sums(name), d))  # type: ignore

    def mean(self, name: str, d: int) -> np.ndarray:
        """Rolling mean over ``d`` sessions."""
        return self.memo(("mean", name, d), lambda: self.sum(name, d) / d)  # type: ignore[return-value]

    def var(self, name: str, d: int, ddof: int) -> np.ndarray:
        """Rolling variance over ``d`` sessions (pairwise-stable, see :func:`.window.window_comoment`)."""
        return self.memo(("var", name, d, ddof),  # type: ignore[return-value]
                         lambda: self.comoment(name, name, d) / (d - ddof))

    def std(self, name: str, d: int, ddof: int) -> np.ndarray:
        """Rolling standard deviation over ``d`` sessions."""
        return self.memo(("std", name, d, ddof), lambda: np.sqrt(self.var(name, d, ddof)))  # type: ignore

    def wsum(self, name: str, d: int) -> np.ndarray:
        """Rolling sum with linear weights ``1..d`` (``d`` on the latest value)."""
        sums = self._sums(name)

        def level(k: int) -> np.ndarray:
            if k == 0:
                return self[name]
            return self.memo(("W", name, k),  # type: ignore[return-value]
                                lambda: w.next_wsum_level(sums(k - 1), level(k - 1), 1 << (k - 1)))
        return self.memo(("wsum", name, d), lambda: w.window_wsum(sums, level, d))  # type: ignore

    def _extreme(self, name: str, d: int, fn: np.ufunc) -> np.ndarray:
        def level(k: int) -> np.ndarray:
            if k == 0:
                return self[name]
            return self.memo((fn.__name__, name, k),  # type: ignore[return-value]
                                lambda: w.next_extreme_level(level(k - 1), 1 << (k - 1), fn))
        return self.memo((fn.__name__, name, "d", d), lambda: w.window_extreme(level, d, fn))  # type: ignore

    def max(self, name: str, d: int) -> np.ndarray:
        """Rolling maximum over ``d`` sessions."""
        return self._extreme(name, d, np.maximum)

    def min(self, name: str, d: int) -> np.ndarray:
        """Rolling minimum over ``d`` sessions."""
        return self._extreme(name, d, np.minimum)

    def _arg(self, name: str, d: int, older_wins: np.ufunc) -> np.ndarray:
        def level(k: int) -> tuple[np.ndarray, np.ndarray]:
            if k == 0:
                rows = np.arange(self.shape[0], dtype=np.float64)[:, None]
                return self[name], np.broadcast_to(rows, self.shape)
            return self.memo((older_wins.__name__, name, k),  # type: ignore[return-value]
                                lambda: w.next_arg_level(level(k - 1), 1 << (k - 1), older_wins))
        return self.memo(("arg", older_wins.__name__, name, d),  # type: ignore[return-value]
                            lambda: w.window_arg(level, d, older_wins))

    def argmax(self, name: str, d: int) -> np.ndarray:
        """1-based position (1 = oldest) of the first maximum in the last ``d`` sessions."""
        return self._arg(name, d, np.greater_equal)

    def argmin(self, name: str, d: int) -> np.ndarray:
        """1-based position (1 = oldest) of the first minimum in the last ``d`` sessions."""
        return self._arg(name, d, np.less_equal)

    def rank(self, name: str, d: int) -> np.ndarray:
        """Percentile rank of the latest value in its ``d``-window (see :func:`.window.pct_rank`)."""
        return self.memo(("rank", name, d), lambda: w.pct_rank(self[name], d))  # type: ignore[return-value]

    def quantile(self, name: str, d: int, q: float) -> np.ndarray:
        """Rolling ``q``-quantile with linear interpolation (polars' own kernel, per symbol)."""
        def compute() -> np.ndarray:
            n_t, n_sym = self.shape
            series = pl.Series(np.ascontiguousarray(self[name].T).ravel(), nan_to_null=True)
            out = series.rolling_quantile(q, "linear", d).to_numpy().reshape(n_sym, n_t).T
            out = np.ascontiguousarray(out)
            out[: d - 1] = np.nan  # those windows reach into the previous symbol
            return out
        return self.memo(("quantile", name, d, q), compute)  # type: ignore[return-value]


# Base derived series (names as in :mod:`._frame`); the first session has no previous close.
@derived("_dc")
def _close_change(k: Chunk) -> np.ndarray:
    return k["_c"] - k.lag("_c", 1)


@derived("_ret")
def _simple_return(k: Chunk) -> np.ndarray:
    return k["_c"] / k.lag("_c", 1) - 1.0


@derived("_lret")
def _log_return(k: Chunk) -> np.ndarray:
    return np.log(k["_c"] / k.lag("_c", 1))


@derived("_tr")
def _true_range(k: Chunk) -> np.ndarray:
    """max(high - low, |high - prev close|, |low - prev close|); high - low on the first session."""
    h, low, prev = k["_h"], k["_l"], k.lag("_c", 1)
    out = np.maximum(np.abs(h - prev), np.abs(low - prev))
    np.maximum(h - low, out, out=out)
    out[0] = h[0] - low[0]
    return out


@derived("_tp")
def _typical_price(k: Chunk) -> np.ndarray:
    return (k["_h"] + k["_l"] + k["_c"]) / 3.0


@derived("_gain")
def _gain(k: Chunk) -> np.ndarray:
    """Close change clipped below at 0 (null on the first session)."""
    return np.maximum(k["_dc"], 0.0)


@derived("_loss")
def _loss(k: Chunk) -> np.ndarray:
    """Minus the close change clipped below at 0."""
    return np.maximum(-k["_dc"], 0.0)
