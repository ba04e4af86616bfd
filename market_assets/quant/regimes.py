"""Market regimes: a Gaussian HMM over [market return, rolling volatility].

Conventions
-----------
* The market series is the equal-weighted mean, over the symbols trading that
  session, of each symbol's one-session adj_close log return
  (``log(adj_close_t / adj_close_prev)``, counted only when the symbol's
  previous row is the panel's previous session: a return across a gap is
  left out, so a session's market return depends on that session and the one
  before only, wherever the data start); ``vol`` is the sample standard
  deviation (ddof=1) of that mean return over the trailing ``vol_window``
  sessions, null until the window is full.
* The model is fitted on complete rows with ``date <= fit_end`` only.  Both
  features are standardised with the mean and standard deviation of that fit
  sample (hmmlearn's ``min_covar`` floor would swamp raw daily variances).
* States are named by their mean return: highest "bull", lowest "bear", the
  one between "sideways" (with more than 3 states: "sideways_1", ... in
  increasing mean return).
* :func:`regime_probabilities` is **filtered, not smoothed**: the probability
  at ``t`` is ``P(state_t | observations up to t)``, from a forward pass in
  log space starting at the first complete row given.  hmmlearn's
  ``predict_proba`` runs forward-backward and would leak later observations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

FEATURES: tuple[str, ...] = ("ret", "vol")


@dataclass(frozen=True, eq=False)
class RegimeModel:
    """A fitted regime HMM; arrays are indexed by the HMM's state number.

    Attributes
    ----------
    startprob, transmat, means, covars
        Initial distribution (n,), transition matrix (n, n), means (n, 2) and
        full covariances (n, 2, 2) in standardised feature space.
    feature_mean, feature_scale
        Standardisation of [ret, vol] learned on the fit sample.
    state_names
        Name of each state, e.g. ("bear", "bull", "sideways").
    fit_end
        Last date the model may have seen.
    log_likelihood
        Log-likelihood of the fit sample under the chosen restart.
    n_obs
        Number of observations in the fit sample.
    """

    startprob: np.ndarray
    transmat: np.ndarray
    means: np.ndarray
    covars: np.ndarray
    feature_mean: np.ndarray
    feature_scale: np.ndarray
    state_names: tuple[str, ...]
    fit_end: date
    log_likelihood: float
    n_obs: int

    @property
    def probability_columns(self) -> list[str]:
        """``p_{name}`` columns in output order: bull, bear, then sideways ones."""
        return [f"p_{n}" for n in _output_order(self.state_names)]


def market_series(prices: pl.DataFrame, *, vol_window: int = 20) -> pl.DataFrame:
    """Equal-weighted market log return and its rolling volatility per session.

    Returns
    -------
    pl.DataFrame
        ``date``, ``ret``, ``vol`` sorted by date; ``ret`` is null on the first
        session, ``vol`` until ``vol_window`` returns exist.
    """
    missing = [c for c in ("date", "symbol", "adj_close") if c not in prices.columns]
    if missing:
        raise ValueError(f"prices: missing column(s) {missing}; got {prices.columns}")
    if vol_window < 2:
        raise ValueError(f"vol_window {vol_window!r}; expected at least 2 sessions")
    bad = prices.filter(~(pl.col("adj_close") > 0))
    if bad.height:
        row = bad.row(0, named=True)
        raise ValueError(f"prices: adj_close {row['adj_close']} for {row['symbol']!r} on {row['date']}; "
                         "expected a positive price")
    dates = prices.select(pl.col("date").unique().sort())
    previous_session = dates.with_columns(pl.col("date").shift(1).alias("previous_session"))
    by_symbol = {"partition_by": "symbol", "order_by": "date"}
    logret = (pl.col("adj_close") / pl.col("adj_close").shift(1).over(**by_symbol)).log()
    consecutive = pl.col("date").shift(1).over(**by_symbol) == pl.col("previous_session")
    return (
        prices.join(previous_session, on="date", how="left")
        .select("date", pl.when(consecutive).then(logret).alias("r"))
        .group_by("date")
        .agg(pl.col("r").mean().alias("ret"))
        .sort("date")
        .with_columns(pl.col("ret").rolling_std(vol_window, min_samples=vol_window).alias("vol"))
    )


def fit_regime_model(
    market: pl.DataFrame,
    *,
    fit_end: date,
    n_states: int = 3,
    random_state: int = 0,
    n_init: int = 5,
    n_iter: int = 200,
) -> RegimeModel:
    """Fit a full-covariance Gaussian HMM on ``market`` rows up to ``fit_end``.

    ``n_init`` restarts (seeds ``random_state``, ``random_state + 1``, ...)
    are fitted and the one with the highest log-likelihood kept (first wins a
    tie), so the same data and seed give the same model.  Fitting runs on one
    BLAS/OpenMP thread (the problem is tiny; more threads only contend).
    """
    if n_states < 2:
        raise ValueError(f"n_states {n_states!r}; expected at least 2 (bull and bear)")
    if n_init < 1:
        raise ValueError(f"n_init {n_init!r}; expected at least 1 restart")
    raw = _observations(market.filter(pl.col("date") <= fit_end))[1]
    if len(raw) < 10 * n_states:
        raise ValueError(f"only {len(raw)} complete market rows up to fit_end={fit_end}; "
                         f"expected at least {10 * n_states} for {n_states} states (extend the history)")
    mean, scale = raw.mean(axis=0), raw.std(axis=0)
    if np.any(scale == 0):
        raise ValueError(f"market features {FEATURES} have zero variance {scale} up to {fit_end}")
    x = (raw - mean) / scale
    best, best_ll = _fit_best_hmm(x, n_states, random_state, n_init, n_iter)
    return RegimeModel(
        startprob=best.startprob_.copy(), transmat=best.transmat_.copy(), means=best.means_.copy(),
        covars=best.covars_.copy(), feature_mean=mean, feature_scale=scale,
        state_names=_state_names(best.means_[:, 0]), fit_end=fit_end, log_likelihood=best_ll,
        n_obs=len(x),
    )


def _fit_best_hmm(x: np.ndarray, n_states: int, random_state: int, n_init: int, n_iter: int):
    """The restart with the highest log-likelihood, and that log-likelihood."""
    from hmmlearn.hmm import GaussianHMM
    from threadpoolctl import threadpool_limits

    best, best_ll = None, -np.inf
    with threadpool_limits(limits=1):  # a (T, 2) problem: threads only contend, and results stay thread-count free
        for seed in range(random_state, random_state + n_init):
            hmm = GaussianHMM(n_components=n_states, covariance_type="full", n_iter=n_iter,
                              random_state=seed, tol=1e-4)
            hmm.fit(x)
            ll = float(hmm.score(x))
            if ll > best_ll:
                best, best_ll = hmm, ll
    return best, best_ll


def regime_probabilities(model: RegimeModel, market: pl.DataFrame) -> pl.DataFrame:
    """Filtered regime probabilities for each complete row of ``market``.

    Returns
    -------
    pl.DataFrame
        ``date``, ``regime`` (name of the most probable state), then
        ``p_bull``, ``p_bear``, ``p_sideways`` (see
        :attr:`RegimeModel.probability_columns`); rows with a null ``ret`` or
        ``vol`` (warm-up) are left out.  Probabilities at ``t`` use only rows
        up to ``t`` (forward algorithm).
    """
    dates, raw = _observations(market)
    x = (raw - model.feature_mean) / model.feature_scale
    probs = filtered_probabilities(model, x)
    order = _output_order(model.state_names)
    index = [model.state_names.index(n) for n in order]
    names = np.array(model.state_names, dtype=object)
    frame = pl.DataFrame({
        "date": pl.Series(dates, dtype=pl.Date),
        "regime": pl.Series(names[probs.argmax(axis=1)] if len(x) else [], dtype=pl.String),
    })
    return frame.with_columns(pl.Series(f"p_{n}", probs[:, i]) for n, i in zip(order, index))


def filtered_probabilities(model: RegimeModel, x: np.ndarray) -> np.ndarray:
    """Forward algorithm in log space on standardised observations ``x`` (T, 2).

    Returns (T, n_states) with row t = P(state_t | x_0..x_t).
    """
    log_b = _log_gaussian(x, model.means, model.covars)
    with np.errstate(divide="ignore"):
        log_a, log_pi = np.log(model.transmat), np.log(model.startprob)
    out = np.empty_like(log_b)
    log_alpha = log_pi
    for t in range(len(x)):
        prior = log_pi if t == 0 else _logsumexp(log_alpha[:, None] + log_a, axis=0)
        joint = prior + log_b[t]
        log_alpha = joint - _logsumexp(joint, axis=0)
        out[t] = np.exp(log_alpha)
    return out


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    """log(sum(exp(a))) along ``axis`` without overflow; -inf entries allowed."""
    peak = np.max(a, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    with np.errstate(divide="ignore"):
        total = np.log(np.sum(np.exp(a - peak), axis=axis, keepdims=True))
    return np.squeeze(total + peak, axis=axis)


def _log_gaussian(x: np.ndarray, means: np.ndarray, covars: np.ndarray) -> np.ndarray:
    """log N(x_t; mean_k, cov_k) for every t and state k, shape (T, n_states)."""
    out = np.empty((len(x), len(means)))
    for k, (mu, cov) in enumerate(zip(means, covars)):
        chol = np.linalg.cholesky(cov)
        z = np.linalg.solve(chol, (x - mu).T)
        log_det = 2.0 * np.log(np.diag(chol)).sum()
        out[:, k] = -0.5 * (x.shape[1] * np.log(2 * np.pi) + log_det + (z**2).sum(axis=0))
    return out


def _observations(market: pl.DataFrame) -> tuple[list[date], np.ndarray]:
    missing = [c for c in ("date", *FEATURES) if c not in market.columns]
    if missing:
        raise ValueError(f"market: missing column(s) {missing}; expected the output of market_series")
    rows = market.sort("date").select("date", *FEATURES).fill_nan(None).drop_nulls()
    return rows.get_column("date").to_list(), rows.select(FEATURES).to_numpy().astype(np.float64)


def _state_names(mean_returns: np.ndarray) -> tuple[str, ...]:
    ranks = np.argsort(np.argsort(-mean_returns, kind="stable"), kind="stable")  # 0 = highest
    n = len(mean_returns)
    middle = n - 2

    def name(rank: int) -> str:
        if rank == 0:
            return "bull"
        if rank == n - 1:
            return "bear"
        return "sideways" if middle == 1 else f"sideways_{n - 1 - rank}"

    return tuple(name(int(r)) for r in ranks)


def _output_order(names: tuple[str, ...]) -> list[str]:
    middle = sorted((n for n in names if n.startswith("sideways")), key=lambda n: (len(n), n))
    return ["bull", "bear", *middle]
