"""Signals → desired sides and relative sizes (``sessions × symbols``), before sizing and limits.

A strategy reads a signal panel (row ``t`` known at session t's close; NaN
where a symbol has no prediction) and returns *intents* of the same shape:
``+1`` long, ``-1`` short, ``0`` flat, or a fraction for a smaller position.
:mod:`.sizing` turns intents into weights.  A missing signal means *no view*:
the intent is 0 (memoryless strategies) or the name is dropped first
(:class:`TopKDropout`).

Strategies with memory (:class:`TopKDropout`) take the intents of the
session before the window (``previous``) so that a period continues the last.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from market_assets.quant.labels import SIGNAL_CLASSES


@dataclass(frozen=True)
class LongFlat:
    """Long (+1) where the signal exceeds ``threshold``, flat otherwise."""

    threshold: float = 0.0  #: strictly above it is long

    def intents(self, signal: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
        """``(T, N)`` intents in {0, 1}."""
        with np.errstate(invalid="ignore"):
            return (signal > self.threshold).astype(np.float64)


@dataclass(frozen=True)
class ClassSizes:
    """The five signal classes (0..4 = STRONG_SELL..STRONG_BUY) mapped to sizes."""

    sizes: tuple[float, float, float, float, float] = (-1.0, -0.5, 0.0, 0.5, 1.0)  #: per class index
    min_confidence: float = 0.0  #: below this confidence the intent is 0

    def __post_init__(self) -> None:
        if len(self.sizes) != len(SIGNAL_CLASSES):
            raise ValueError(f"sizes {self.sizes}: expected one size per class {SIGNAL_CLASSES}")

    def intents(self, signal: np.ndarray, previous: np.ndarray | None = None,
                confidence: np.ndarray | None = None) -> np.ndarray:
        """``(T, N)`` sizes; NaN or non-integral classes raise, missing rows are 0."""
        present = np.isfinite(signal)
        index = np.where(present, signal, 2.0)
        if np.any((index != np.round(index)) | (index < 0) | (index > 4)):
            bad = index[(index != np.round(index)) | (index < 0) | (index > 4)][0]
            raise ValueError(f"class index {float(bad)!r}; expected an integer 0..4 ({', '.join(SIGNAL_CLASSES)})")
        out = np.asarray(self.sizes, dtype=np.float64)[index.astype(np.int64)]
        if confidence is not None and self.min_confidence > 0:
            out = np.where(np.nan_to_num(confidence, nan=0.0) >= self.min_confidence, out, 0.0)
        return np.where(present, out, 0.0)


@dataclass(frozen=True)
class TopKDropout:
    """Hold the top ``k`` (long) and, if ``long_short``, the bottom ``k`` (short), replacing at most ``n_drop`` a day.

    Qlib's TopkDropout, per side: among the names held plus the best
    ``n_drop + k - held`` names not held, the held names ranked in the last
    ``n_drop`` are sold and as many (plus any free slots) of the best new
    names are bought.  Held names without a signal rank last.  The first
    session fills the book with the top ``k``.
    """

    k: int = 10  #: names per side
    n_drop: int = 2  #: most replacements per side and session
    long_short: bool = True  #: also short the bottom k

    def __post_init__(self) -> None:
        if self.k < 1 or self.n_drop < 0:
            raise ValueError(f"TopKDropout(k={self.k}, n_drop={self.n_drop}); expected k >= 1 and n_drop >= 0")

    def intents(self, signal: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
        """``(T, N)`` intents in {-1, 0, +1}."""
        T, N = signal.shape
        if self.long_short and 2 * self.k > N:
            raise ValueError(f"TopKDropout: 2k = {2 * self.k} names needed but the universe has {N}")
        out = np.zeros((T, N))
        long = set() if previous is None else set(np.flatnonzero(previous > 0).tolist())
        short = set() if previous is None else set(np.flatnonzero(previous < 0).tolist())
        for t in range(T):
            score = signal[t]
            long = self._side(score, long, exclude=short)
            if self.long_short:
                short = self._side(-score, short, exclude=long)
            out[t, list(long)] = 1.0
            out[t, list(short)] = -1.0
        return out

    def _side(self, score: np.ndarray, held: set[int], exclude: set[int]) -> set[int]:
        finite = np.isfinite(score)
        key = np.where(finite, score, -np.inf)
        order = np.argsort(-key, kind="stable")
        free = finite.copy()
        free[list(held | exclude)] = False
        candidates = order[free[order]].tolist()
        if not held:
            return set(candidates[: self.k])
        new = candidates[: max(self.n_drop + self.k - len(held), 0)]
        combined = sorted(held | set(new), key=lambda i: (-key[i], i))
        worst = set(combined[len(combined) - self.n_drop:]) if self.n_drop else set()
        sell = held & worst
        buy = new[: len(sell) + self.k - len(held)]
        return (held - sell) | set(buy)
