"""Trading costs: commission (bps with a minimum per trade), slippage, short borrow.

Conventions
-----------
* **Trade value** is the absolute change of a position's market value at the
  fill price (adjusted prices), in currency: ``|shares traded| * fill price``.
* **Commission** per trade is ``max(commission_bps / 1e4 * trade value,
  min_commission)`` for every non-zero trade.  ``min_commission`` is in
  currency, so it needs the portfolio's value in currency: the engine starts
  at ``initial_capital`` and tracks NAV in currency from there.
* **Slippage** is ``slippage_bps / 1e4 * trade value``: buys fill that much
  above, sells that much below the reference price.  Commission is charged on
  the trade value at the *reference* price (not at the slipped price), so the
  two rates simply add; vectorbt charges its fee on the slipped price, which
  differs by ``slippage * fee`` of the trade value (1e-6 at 10 bps each).
* **Borrow** is ``borrow_bps_per_year / 1e4 / 252`` of the short market value
  per session, charged once per session on the short book right after that
  session's fill (the book carried into the next segment).
* Costs are paid from cash at the fill, and **target weights are fractions of
  the NAV after that session's costs** (the value the positions are held in):
  the engine solves ``V+ = V- - costs(trades(V+))`` for the post-trade NAV
  ``V+``.  For a single asset going all in, this is exactly vectorbt's
  ``size=inf`` buy (``shares * price * (1 + fee) = cash``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from market_assets.quant.backtest.arrays import sum_last

#: Sessions per year: annualisation of borrow rates and of every metric.
SESSIONS_PER_YEAR = 252


@dataclass(frozen=True)
class CostModel:
    """What a trade and a short position cost (see module docstring)."""

    commission_bps: float = 0.0  #: commission, basis points of trade value
    min_commission: float = 0.0  #: minimum commission per non-zero trade, in currency
    slippage_bps: float = 0.0  #: adverse fill, basis points of trade value
    borrow_bps_per_year: float = 0.0  #: annual borrow fee on short market value, basis points

    def __post_init__(self) -> None:
        for name in ("commission_bps", "min_commission", "slippage_bps", "borrow_bps_per_year"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"CostModel.{name}={value!r}; expected a finite value >= 0")

    @property
    def proportional_rate(self) -> float:
        """Commission plus slippage as a fraction of trade value."""
        return (self.commission_bps + self.slippage_bps) / 1e4

    @property
    def borrow_rate_per_session(self) -> float:
        """Borrow fee per session as a fraction of short market value."""
        return self.borrow_bps_per_year / 1e4 / SESSIONS_PER_YEAR

    @property
    def is_proportional(self) -> bool:
        """No minimum commission: costs scale with NAV, so they can be computed in weights."""
        return self.min_commission == 0.0

    def trade_costs(self, trade_values: np.ndarray) -> np.ndarray:
        """Commission and slippage per trade (currency), zero where the trade is zero."""
        size = np.abs(trade_values)
        commission = np.maximum(self.commission_bps / 1e4 * size, self.min_commission)
        return np.where(size > 0, commission + self.slippage_bps / 1e4 * size, 0.0)

    def borrow_cost(self, positions: np.ndarray) -> np.ndarray:
        """Borrow for one session on the short market value of ``positions`` (last axis summed)."""
        return self.borrow_rate_per_session * np.maximum(-positions, 0.0).sum(axis=-1)


def post_trade_scale(
    targets: np.ndarray, drifted: np.ndarray, costs: CostModel, *, tol: float = 1e-15, max_iter: int = 60
) -> np.ndarray:
    """``v = V+ / V-`` for proportional costs, in weights (last axis: assets).

    Solves ``f(v) = v * (1 + b * sum max(-u, 0)) - 1 + c * sum |u * v - x| = 0``,
    where ``u`` are the target weights (of ``V+``), ``x`` the drifted weights
    before the trade (of ``V-``), ``c`` the proportional rate and ``b`` the
    borrow rate per session.  ``f`` is convex, piecewise linear and
    increasing while the gross exposure stays below ``1 / c``, so Newton's
    method reaches the root exactly once the signs of the trades settle (one
    or two steps).  Sessions without a trade or a short are solved in closed
    form and skipped.

    Raises
    ------
    ValueError
        If it does not converge (gross exposure of ``1 / c`` or more).
    """
    c, b = costs.proportional_rate, costs.borrow_rate_per_session
    n = targets.shape[-1]
    u, x = targets.reshape(-1, n), drifted.reshape(-1, n)
    if b:
        shorts = sum_last(np.maximum(-u, 0.0))
        d = 1.0 + b * shorts
        v = 1.0 / d
    else:
        shorts, d, v = None, None, np.ones(len(u))
    if c == 0.0:
        return v.reshape(targets.shape[:-1])
    moving = (u != x)[:, 0] if n == 1 else (u != x).any(axis=1)
    rows = np.flatnonzero(moving if shorts is None else moving | (shorts > 0))
    uu, xx = u[rows], x[rows]
    dd = 1.0 if d is None else d[rows]
    w = (1.0 - c * sum_last(np.abs(uu - xx))) / dd
    for _ in range(max_iter):
        trade = uu * w[:, None] - xx
        f = w * dd - 1.0 + c * sum_last(np.abs(trade))
        slope = dd + c * sum_last(uu * np.sign(trade))
        new = w - f / slope
        step = np.max(np.abs(new - w), initial=0.0)
        w = new
        if step <= tol:
            v[rows] = w
            return v.reshape(targets.shape[:-1])
    raise ValueError(f"post-trade NAV did not converge in {max_iter} iterations (last step {step:.3g}); "
                     f"gross exposure too large for cost rate {c}")
