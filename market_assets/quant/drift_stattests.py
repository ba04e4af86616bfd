"""Evidently 0.7's default drift tests, re-implemented on sorted arrays and value counts.

:mod:`market_assets.quant.drift` calls these per column; they reproduce the
numbers of ``evidently.presets.DataDriftPreset()`` (tested to 1e-9 against
``Report([DataDriftPreset()])``) without building an Evidently report.

How Evidently picks a test (``evidently/legacy/calculations/stattests/registry.py``,
``_get_default_stattest``), after dropping nulls, NaN and ±inf from each side
(``evidently/legacy/calculations/data_drift.py``, ``get_one_column_drift``):

* ``n_reference`` = reference rows left after that cleaning;
  ``n_unique`` = distinct values of reference and current together.
* ``n_reference <= 1000``: numerical columns with ``n_unique > 5`` get the
  two-sample **K-S** test (``ks``); ``n_unique`` of 3 to 5 the **chi-square**
  test (``chisquare``), 1 or 2 the two-proportion **Z-test** (``z``).
  Categorical columns: chi-square if ``n_unique > 2``, else Z-test.
* ``n_reference > 1000``: numerical columns with ``n_unique > 5`` get the
  **normed Wasserstein distance** (``wasserstein``); ``n_unique <= 5`` and
  every categorical column the **Jensen-Shannon distance** (``jensenshannon``).

Scores and decisions (each test's ``default_threshold``):

=================  ==========================================  =========  ===================
stattest           score                                       threshold  drifted when
=================  ==========================================  =========  ===================
``wasserstein``    W1(ref, cur) / max(std(ref, ddof=0), 0.001)  0.1        score >= threshold
``jensenshannon``  JS distance (natural log) of the shares      0.1        score >= threshold
``ks``             two-sided ``scipy.stats.ks_2samp`` p-value   0.05       score <= threshold
``chisquare``      ``scipy.stats.chisquare`` p-value            0.05       score < threshold
``z``              two-sided two-proportion Z-test p-value      0.05       score < threshold
=================  ==========================================  =========  ===================

Note the asymmetry Evidently has: K-S drifts at ``p <= 0.05``, chi-square and
Z-test at ``p < 0.05``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from scipy.spatial import distance

#: A reference with more cleaned rows than this switches to distance tests.
LARGE_REFERENCE_ROWS = 1000
#: Numerical columns with at most this many distinct values get a categorical test.
FEW_VALUES = 5
#: Evidently's floor on the reference standard deviation that norms the Wasserstein distance.
WASSERSTEIN_MIN_NORM = 0.001

DEFAULT_THRESHOLDS: dict[str, float] = {
    "wasserstein": 0.1, "jensenshannon": 0.1, "ks": 0.05, "chisquare": 0.05, "z": 0.05,
}
#: Evidently's display names (the ``method`` of a ``ValueDrift`` metric in a report).
DISPLAY_NAMES: dict[str, str] = {
    "wasserstein": "Wasserstein distance (normed)", "jensenshannon": "Jensen-Shannon distance",
    "ks": "K-S p_value", "chisquare": "chi-square p_value", "z": "Z-test p_value",
}
#: Tests whose score is a p-value (small is drift); the others are distances (large is drift).
P_VALUE_TESTS = frozenset({"ks", "chisquare", "z"})


def select_stattest(n_reference: int, n_unique: int, categorical: bool) -> str:
    """The test Evidently 0.7 uses by default for a cleaned column (see the module docstring)."""
    if n_reference <= LARGE_REFERENCE_ROWS:
        if categorical or n_unique <= FEW_VALUES:
            return "chisquare" if n_unique > 2 else "z"
        return "ks"
    if categorical or n_unique <= FEW_VALUES:
        return "jensenshannon"
    return "wasserstein"


def is_drifted(stattest: str, score: float, threshold: float) -> bool:
    """Evidently's decision for ``score`` of ``stattest`` (``<=``, ``<`` or ``>=``, see the table)."""
    if stattest == "ks":
        return bool(score <= threshold)
    if stattest in ("chisquare", "z"):
        return bool(score < threshold)
    if stattest in ("wasserstein", "jensenshannon"):
        return bool(score >= threshold)
    raise ValueError(f"unknown stattest {stattest!r}; expected one of {sorted(DEFAULT_THRESHOLDS)}")


def severity(stattest: str, score: float, threshold: float) -> float:
    """How far past its threshold a score is, comparable across tests: >= 1 is (about) drift.

    Distances: ``score / threshold``.  P-values: ``log(score) / log(threshold)``
    (a p-value of 0 is infinitely severe).  Used to rank columns, never to decide drift.
    """
    if stattest in P_VALUE_TESTS:
        return math.inf if score <= 0.0 else math.log(score) / math.log(threshold)
    return score / threshold


#: Step widths (units of 1/(n*m)) and the reference and current sample index of each step.
QuantileGrid = tuple[np.ndarray, np.ndarray, np.ndarray]


def wasserstein_norm(reference_sorted: np.ndarray, current_sorted: np.ndarray, reference_std: float,
                     grid: QuantileGrid | None = None) -> float:
    """Evidently's normed Wasserstein distance of two sorted, finite samples.

    Equal to ``scipy.stats.wasserstein_distance(ref, cur) / max(std(ref), 0.001)``
    (to rounding).

    Parameters
    ----------
    reference_sorted, current_sorted : np.ndarray
        1-D, ascending, finite, non-empty.
    reference_std : float
        Population (ddof=0) standard deviation of the reference.
    grid : QuantileGrid, optional
        ``quantile_grid(len(reference_sorted), len(current_sorted))``, to share
        between columns of the same sizes.

    Notes
    -----
    W1 is the integral over ``t`` in (0, 1] of ``|Q_ref(t) - Q_cur(t)|``.  With
    ``n`` and ``m`` samples both quantile functions are steps on the grid
    ``{i/n} U {j/m}``; in units of ``1/(n*m)`` its points are the integers
    ``i*m`` and ``j*n``, so the integral is an exact weighted sum over the
    merged grid, which depends only on ``(n, m)``: no merge sort per column.
    """
    n, m = reference_sorted.size, current_sorted.size
    steps, ref_index, cur_index = quantile_grid(n, m) if grid is None else grid
    area = float((steps * np.abs(reference_sorted[ref_index] - current_sorted[cur_index])).sum()) / (n * m)
    return area / max(float(reference_std), WASSERSTEIN_MIN_NORM)


def quantile_grid(n: int, m: int) -> QuantileGrid:
    """The merged step grid of two empirical quantile functions of ``n`` and ``m`` samples."""
    if n < 1 or m < 1:
        raise ValueError(f"wasserstein needs non-empty samples, got {n} reference and {m} current values")
    j = np.arange(1, m + 1, dtype=np.int64) * n              # current's breakpoints j*n
    below = (j - 1) // m                                      # reference breakpoints i*m < j*n
    grid = np.empty(n + m, dtype=np.int64)
    at = below + np.arange(m)
    keep = np.ones(n + m, dtype=bool)
    keep[at] = False
    grid[keep] = np.arange(1, n + 1, dtype=np.int64) * m
    grid[at] = j
    grid = grid[np.r_[True, grid[1:] != grid[:-1]]]           # i*m == j*n counted once
    return np.diff(grid, prepend=0).astype(np.float64), (grid - 1) // m, (grid - 1) // n


def ks_pvalue(reference: np.ndarray, current: np.ndarray) -> float:
    """Two-sided two-sample K-S p-value, ``scipy.stats.ks_2samp`` defaults (as Evidently)."""
    return float(stats.ks_2samp(reference, current).pvalue)


def _aligned_counts(ref_values: np.ndarray, ref_counts: np.ndarray,
                    cur_values: np.ndarray, cur_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of both sides over the sorted union of their values (0 where absent)."""
    keys = np.union1d(ref_values, cur_values)
    ref = np.zeros(keys.size, dtype=np.int64)
    cur = np.zeros(keys.size, dtype=np.int64)
    ref[np.searchsorted(keys, ref_values)] = ref_counts
    cur[np.searchsorted(keys, cur_values)] = cur_counts
    return keys, ref, cur


def chisquare_pvalue(ref_values: np.ndarray, ref_counts: np.ndarray,
                     cur_values: np.ndarray, cur_counts: np.ndarray) -> float:
    """Chi-square goodness of fit of current counts to reference shares (Evidently's ``chisquare``).

    Expected counts are the reference counts scaled to the current size; a
    value seen only in the current window has an expected count of 0, which
    makes the statistic infinite and the p-value 0 (as in Evidently).
    """
    _, ref, cur = _aligned_counts(ref_values, ref_counts, cur_values, cur_counts)
    expected = ref * (cur.sum() / ref.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(stats.chisquare(cur, expected).pvalue)


def z_pvalue(ref_values: np.ndarray, ref_counts: np.ndarray,
             cur_values: np.ndarray, cur_counts: np.ndarray) -> float:
    """Two-sided two-proportion Z-test p-value (Evidently's ``z``).

    The proportion tested is the share of rows *not* equal to the smallest
    value of the union; 1.0 when both sides hold the same single value.
    """
    if ref_values.size == 1 and cur_values.size == 1 and ref_values[0] == cur_values[0]:
        return 1.0
    _, ref, cur = _aligned_counts(ref_values, ref_counts, cur_values, cur_counts)
    n1, n2 = int(ref.sum()), int(cur.sum())
    p1, p2 = float(n1 - ref[0]) / n1, float(n2 - cur[0]) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - stats.norm.cdf(np.abs(z))))


def jensenshannon_distance(ref_values: np.ndarray, ref_counts: np.ndarray,
                           cur_values: np.ndarray, cur_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (natural log) of the value shares (Evidently's ``jensenshannon``)."""
    _, ref, cur = _aligned_counts(ref_values, ref_counts, cur_values, cur_counts)
    return float(distance.jensenshannon(ref / ref.sum(), cur / cur.sum()))
