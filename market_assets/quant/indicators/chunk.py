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

from collections.abc import Callable, Collection, Sequence
from functools import partial

import numpy as np

from market_assets.quant.indicators import order_stats
from market_assets.quant.indicators import window as w

Kernel = Callable[["Chunk"], np.ndarray]
DERIVED: dict[str, Kernel] = {}


def derived(name: str) -> Callable[[Kernel], Kernel]:
    """Register a named derived series, computed on first use in each chunk.

    Registering the same function again (a spec builder called twice, a
    module reloaded) replaces it; a function from elsewhere under a name
    already taken is refused.
    """
    def register(fn: Kernel) -> Kernel:
        known = DERIVED.get(name)
        if known is not None and (known.__module__, known.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ValueError(f"derived series {name!r} is already registered by {known.__module__}."
                             f"{known.__qualname__}; {fn.__module__}.{fn.__qualname__} needs another name")
        DERIVED[name] = fn
        return fn
    return register


def safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den``, NaN (null) where ``den`` is zero (never ±inf)."""
    out = np.divide(num, den)
    zero = den == 0
    if zero.any():
        np.copyto(out, np.nan, where=zero)
    return out


class Chunk:
    """Time-major ``(sessions × symbols)`` matrices of a block of symbols.

    Parameters
    ----------
    series
        Base matrices by name, all of the same shape (NaN-padded).

    Notes
    -----
    Returned matrices may be memoised and shared between features: kernels
    must never modify them in place.  When ``last_use`` is a dict, every
    memo access is recorded under the current ``step`` (see :func:`usage_plan`).
    """

    def __init__(self, series: dict[str, np.ndarray]) -> None:
        self._memo: dict[object, object] = dict(series)
        first = next(iter(series.values()))
        self.shape: tuple[int, int] = first.shape
        self.step = 0
        self.last_use: dict[object, int] | None = None  # set to {} to record

    def _get(self, key: object, build: Callable[[], object]) -> object:
        if self.last_use is not None:
            self.last_use[key] = self.step
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._memo and name not in DERIVED:
            raise KeyError(f"unknown series {name!r}; known: base/recursion outputs "
                           f"{sorted(k for k in self._memo if isinstance(k, str))} and derived {sorted(DERIVED)}")
        return self._get(name, lambda: DERIVED[name](self))  # type: ignore[return-value]

    def put(self, name: str, values: np.ndarray) -> None:
        """Add a named series (recursion or whole-panel output)."""
        self._memo[name] = values

    def memo(self, key: tuple, fn: Callable[[], object]) -> object:
        """``fn()`` computed once per chunk under ``key`` (for kernels sharing a multi-part result)."""
        return self._get(key, fn)

    def release(self, keys: Collection[object]) -> None:
        """Forget memoised values no later kernel needs (see :func:`usage_plan`)."""
        for key in keys:
            self._memo.pop(key, None)

    def lag(self, name: str, k: int) -> np.ndarray:
        """``name`` ``k`` sessions ago (polars ``shift(k)``)."""
        return self.memo(("lag", name, k), lambda: w.lag(self[name], k))  # type: ignore[return-value]

    # Power-of-two levels (see :mod:`.window`), memoised.  Methods, not nested
    # closures, so that a chunk holds no reference cycle and is freed as soon
    # as the engine drops it.
    def _sum_level(self, name: str, k: int) -> np.ndarray:
        if k == 0:
            return self[name]
        return self._get(("S", name, k),  # type: ignore[return-value]
                         lambda: w.next_sum_level(self._sum_level(name, k - 1), 1 << (k - 1)))

    def _comoment_level(self, x: str, y: str, k: int) -> np.ndarray:
        if k == 0:
            return self._get(("C", x, y, 0),  # type: ignore[return-value]
                             lambda: self[x] * 0.0 if x == y else (self[x] + self[y]) * 0.0)
        sx = self._sum_level(x, k - 1)
        sy = sx if x == y else self._sum_level(y, k - 1)
        return self._get(("C", x, y, k),  # type: ignore[return-value]
                         lambda: w.next_comoment_level(sx, sy, self._comoment_level(x, y, k - 1), 1 << (k - 1)))

    def _wsum_level(self, name: str, k: int) -> np.ndarray:
        if k == 0:
            return self[name]
        return self._get(("W", name, k), lambda: w.next_wsum_level(  # type: ignore[return-value]
            self._sum_level(name, k - 1), self._wsum_level(name, k - 1), 1 << (k - 1)))

    def _extreme_level(self, name: str, fn: np.ufunc, k: int) -> np.ndarray:
        if k == 0:
            return self[name]
        return self._get((fn.__name__, name, k),  # type: ignore[return-value]
                         lambda: w.next_extreme_level(self._extreme_level(name, fn, k - 1), 1 << (k - 1), fn))

    def _arg_level(self, name: str, older_wins: np.ufunc, k: int) -> tuple[np.ndarray, np.ndarray]:
        if k == 0:
            rows = np.arange(self.shape[0], dtype=np.float64)[:, None]
            return self[name], np.broadcast_to(rows, self.shape)
        return self._get((older_wins.__name__, name, k), lambda: w.next_arg_level(  # type: ignore[return-value]
            self._arg_level(name, older_wins, k - 1), 1 << (k - 1), older_wins))

    def comoment(self, x: str, y: str, d: int) -> np.ndarray:
        """Rolling ``sum (x - mean x)(y - mean y)`` over ``d`` sessions (pairwise-stable)."""
        def compute() -> np.ndarray:
            sx = partial(self._sum_level, x)
            sy = sx if x == y else partial(self._sum_level, y)
            return w.window_comoment(sx, sy, partial(self._comoment_level, x, y), d)
        return self.memo(("comoment", x, y, d), compute)  # type: ignore[return-value]

    def sum(self, name: str, d: int) -> np.ndarray:
        """Rolling sum over ``d`` sessions."""
        return self.memo(("sum", name, d),  # type: ignore[return-value]
                         lambda: w.window_sum(partial(self._sum_level, name), d))

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
        return self.memo(("wsum", name, d), lambda: w.window_wsum(  # type: ignore[return-value]
            partial(self._sum_level, name), partial(self._wsum_level, name), d))

    def max(self, name: str, d: int) -> np.ndarray:
        """Rolling maximum over ``d`` sessions."""
        return self.memo(("max", name, d), lambda: w.window_extreme(  # type: ignore[return-value]
            partial(self._extreme_level, name, np.maximum), d, np.maximum))

    def min(self, name: str, d: int) -> np.ndarray:
        """Rolling minimum over ``d`` sessions."""
        return self.memo(("min", name, d), lambda: w.window_extreme(  # type: ignore[return-value]
            partial(self._extreme_level, name, np.minimum), d, np.minimum))

    def argmax(self, name: str, d: int) -> np.ndarray:
        """1-based position (1 = oldest) of the first maximum in the last ``d`` sessions."""
        return self.memo(("argmax", name, d), lambda: w.window_arg(  # type: ignore[return-value]
            partial(self._arg_level, name, np.greater_equal), d, np.greater_equal))

    def argmin(self, name: str, d: int) -> np.ndarray:
        """1-based position (1 = oldest) of the first minimum in the last ``d`` sessions."""
        return self.memo(("argmin", name, d), lambda: w.window_arg(  # type: ignore[return-value]
            partial(self._arg_level, name, np.less_equal), d, np.less_equal))

    def rank(self, name: str, d: int) -> np.ndarray:
        """Percentile rank of the latest value in its ``d``-window (see :func:`.order_stats.pct_rank`)."""
        return self.memo(("rank", name, d), lambda: order_stats.pct_rank(self[name], d))  # type: ignore

    def quantiles(self, name: str, d: int, qs: tuple[float, ...]) -> list[np.ndarray]:
        """Rolling quantiles ``qs`` with linear interpolation, as polars (see :func:`.order_stats.quantiles`)."""
        return self.memo(("quantiles", name, d, qs),  # type: ignore[return-value]
                         lambda: order_stats.quantiles(self[name], d, qs))


def usage_plan(chunk: Chunk, kernels: Sequence[Kernel]) -> list[list[object]]:
    """Run ``kernels`` in order on a (small) chunk and return, per kernel, the memo keys it uses last.

    Kernels read the same intermediates whatever the data, so a one-symbol
    chunk tells which intermediates can be released after each kernel; this
    keeps a chunk's working set to the few matrices still needed.
    """
    chunk.last_use = {}
    for step, kernel in enumerate(kernels):
        chunk.step = step
        kernel(chunk)
    plan: list[list[object]] = [[] for _ in kernels]
    for key, step in chunk.last_use.items():
        plan[step].append(key)
    return plan


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
