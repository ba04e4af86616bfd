"""How much of a backtest's Sharpe to believe: deflated Sharpe, PBO (CSCV), impossible-Sharpe flags.

Conventions
-----------
* Sharpe ratios inside these formulas are **per session** (not annualised),
  risk-free 0, ``std`` with ddof=1, as in Bailey & López de Prado.
* **Deflated Sharpe ratio** (Bailey & López de Prado, 2014): the probability
  that the true Sharpe exceeds the best Sharpe expected from ``n_trials``
  unskilled configurations,
  ``DSR = Phi((SR - SR0) * sqrt(T - 1) / sqrt(1 - g3 * SR + (g4 - 1) / 4 * SR^2))``
  with skewness ``g3`` and (non-excess) kurtosis ``g4`` of the returns
  (population moments), and
  ``SR0 = sqrt(V) * ((1 - e) * Phi^-1(1 - 1/N) + e * Phi^-1(1 - 1/(N * exp(1))))``,
  ``e`` the Euler-Mascheroni constant and ``V`` the variance (ddof=1) of the
  per-session Sharpe ratios of the ``N`` trials.  With one trial ``SR0 = 0``
  (the probabilistic Sharpe ratio against 0).
* **PBO by CSCV** (Bailey, Borwein, López de Prado & Zhu, 2017): the sessions
  are cut into ``n_blocks`` (even) contiguous blocks; for every half of the
  blocks taken as in-sample (the rest out-of-sample) the configuration with
  the best in-sample Sharpe is ranked out-of-sample (rank 1 = worst of ``N``),
  ``w = rank / (N + 1)``, ``logit = ln(w / (1 - w))``; PBO is the share of
  splits with ``logit <= 0`` (the in-sample winner at or below the
  out-of-sample median).  Rows that do not fill a whole block are dropped
  from the start.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from market_assets.quant.backtest.costs import SESSIONS_PER_YEAR

EULER_GAMMA = 0.5772156649015329


def _per_session_sharpe(r: np.ndarray) -> np.ndarray:
    sd = r.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, r.mean(axis=0) / np.where(sd > 0, sd, 1.0), np.nan)


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """``SR0``: the expected best per-session Sharpe of ``n_trials`` unskilled trials."""
    if n_trials < 1:
        raise ValueError(f"n_trials={n_trials}; expected at least 1 configuration tried")
    if n_trials == 1:
        return 0.0
    from scipy import stats

    z1 = stats.norm.ppf(1.0 - 1.0 / n_trials)
    z2 = stats.norm.ppf(1.0 - 1.0 / (n_trials * np.e))
    return float(np.sqrt(sharpe_variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2))


def deflated_sharpe_ratio(
    returns: np.ndarray, *, n_trials: int = 1, trial_sharpes: np.ndarray | None = None,
    sharpe_variance: float | None = None,
) -> float:
    """The deflated Sharpe ratio of ``returns`` (``(T,)``) given the trials of the search.

    Parameters
    ----------
    returns
        Session returns of the selected configuration.
    n_trials
        Configurations tried (ignored when ``trial_sharpes`` is given).
    trial_sharpes
        Per-session Sharpe ratios of every configuration tried; gives both
        ``N`` and ``V``.
    sharpe_variance
        ``V`` when only the count is known; required with ``n_trials > 1``.
    """
    from scipy import stats

    r = np.asarray(returns, dtype=np.float64)
    if trial_sharpes is not None:
        trial = np.asarray(trial_sharpes, dtype=np.float64)
        n_trials, sharpe_variance = trial.size, float(np.var(trial, ddof=1)) if trial.size > 1 else 0.0
    elif n_trials > 1 and sharpe_variance is None:
        raise ValueError(f"n_trials={n_trials} needs sharpe_variance (or pass trial_sharpes)")
    return deflated_sharpe_from_moments(
        float(_per_session_sharpe(r)), len(r), float(stats.skew(r)), float(stats.kurtosis(r, fisher=False)),
        n_trials=n_trials, sharpe_variance=sharpe_variance or 0.0,
    )


def deflated_sharpe_from_moments(
    sharpe: float, n_obs: int, skew: float, kurtosis: float, *, n_trials: int, sharpe_variance: float
) -> float:
    """The deflated Sharpe ratio from a per-session Sharpe, ``T``, skewness and (non-excess) kurtosis."""
    from scipy import stats

    sr0 = expected_max_sharpe(n_trials, sharpe_variance)
    denominator = np.sqrt(1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe * sharpe)
    return float(stats.norm.cdf((sharpe - sr0) * np.sqrt(n_obs - 1) / denominator))


@dataclass(frozen=True)
class OverfittingReport:
    """CSCV outcome: the PBO and the logit of each split."""

    pbo: float  #: share of splits whose in-sample best is at or below the out-of-sample median
    logits: np.ndarray  #: one per split
    n_splits: int
    n_configs: int


def probability_of_backtest_overfitting(returns: np.ndarray, n_blocks: int = 16) -> OverfittingReport:
    """PBO of a sweep: ``returns`` is ``(T, n_configs)`` session returns (see module docstring)."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] < 2:
        raise ValueError(f"returns have shape {r.shape}; expected (sessions, configurations >= 2)")
    if n_blocks < 2 or n_blocks % 2:
        raise ValueError(f"n_blocks={n_blocks}; expected an even number >= 2")
    size = r.shape[0] // n_blocks
    if size < 2:
        raise ValueError(f"{r.shape[0]} sessions cannot fill {n_blocks} blocks of >= 2 sessions")
    blocks = r[r.shape[0] - size * n_blocks:].reshape(n_blocks, size, r.shape[1])
    s1, s2 = blocks.sum(axis=1), (blocks ** 2).sum(axis=1)  # (n_blocks, N)
    combos = np.array(list(itertools.combinations(range(n_blocks), n_blocks // 2)))
    mask = np.zeros((len(combos), n_blocks))
    mask[np.arange(len(combos))[:, None], combos] = 1.0
    n = size * n_blocks // 2
    sharpe_is, sharpe_oos = (_sharpe_from_sums(m @ s1, m @ s2, n) for m in (mask, 1.0 - mask))
    best = np.nanargmax(np.where(np.isfinite(sharpe_is), sharpe_is, -np.inf), axis=1)
    oos = np.where(np.isfinite(sharpe_oos), sharpe_oos, -np.inf)
    chosen = oos[np.arange(len(combos)), best]
    rank = (oos < chosen[:, None]).sum(axis=1) + 1  # 1 = worst; ties take the lowest rank
    w = rank / (r.shape[1] + 1.0)
    logits = np.log(w / (1.0 - w))
    return OverfittingReport(float(np.mean(logits <= 0)), logits, len(combos), r.shape[1])


def _sharpe_from_sums(s1: np.ndarray, s2: np.ndarray, n: int) -> np.ndarray:
    mean = s1 / n
    var = (s2 - n * mean ** 2) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(var > 0, mean / np.sqrt(np.maximum(var, 1e-300)), np.nan)


@dataclass(frozen=True)
class SharpeVerdict:
    """Whether a Sharpe ratio is too good to be true, and why."""

    impossible: bool
    sharpe: float  #: annualised
    hit_rate: float  #: share of positive among non-zero sessions
    reasons: tuple[str, ...]


def detect_impossible_sharpe(
    returns: np.ndarray, *, max_sharpe: float = 4.0, max_hit_rate: float = 0.65, min_sessions: int = 60
) -> SharpeVerdict:
    """Flag an annualised Sharpe above ``max_sharpe`` or a daily hit rate above ``max_hit_rate``.

    A daily-traded equity book after costs essentially never sustains either
    out of sample: such a result points to look-ahead (a signal that saw the
    return it trades), a fill on the signal's own bar, or a pricing bug, and
    should be investigated before it is believed.  Needs ``min_sessions``.
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or len(r) < min_sessions:
        raise ValueError(f"returns have shape {r.shape}; expected one series of >= {min_sessions} sessions")
    sharpe = float(_per_session_sharpe(r) * np.sqrt(SESSIONS_PER_YEAR))
    moving = r[r != 0]
    hit = float(np.mean(moving > 0)) if moving.size else float("nan")
    reasons = []
    if sharpe > max_sharpe:
        reasons.append(f"annualised Sharpe {sharpe:.2f} > {max_sharpe}: look for look-ahead in the signal or fills")
    if hit > max_hit_rate:
        reasons.append(f"hit rate {hit:.1%} of {moving.size} sessions > {max_hit_rate:.0%}")
    return SharpeVerdict(bool(reasons), sharpe, hit, tuple(reasons))
