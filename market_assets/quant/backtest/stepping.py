"""One session of the loop path of :mod:`.engine`: fills with caps, bands, stops and minimum commissions.

The equations and conventions are those of :mod:`.engine` and :mod:`.costs`;
positions and cash are tracked in currency.  The post-trade NAV ``V+`` that
the targets refer to is found by fixed-point iteration of ``V+ = V- -
costs(trades(V+))``; which symbols trade (no-trade band) is decided once per
session from the trades sized at ``V-``, so the iteration is a contraction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from market_assets.quant.backtest.engine import EngineState, ExecutionConfig, _Market

_MAX_ITER = 60
_TOL = 1e-15


@dataclass(frozen=True)
class Step:
    """Currency amounts of one session (``(*batch)`` or ``(*batch, N)``)."""

    nav: np.ndarray  #: NAV at the close
    before: np.ndarray  #: NAV just before the fill
    trades: np.ndarray  #: signed trade value per symbol
    costs: np.ndarray  #: commission + slippage
    borrow: np.ndarray  #: borrow fee


class Stepper:
    """Positions, cash and order state, advanced one session per :meth:`step`."""

    def __init__(self, config: ExecutionConfig, state: EngineState, market: _Market) -> None:
        self.config, self.m = config, market
        self.positions = state.positions.astype(np.float64, copy=True)
        self.cash = state.nav - self.positions.sum(axis=-1)
        self.pending = state.pending.copy()
        self.locked = state.locked.copy()
        self.executed = state.executed.astype(np.float64, copy=True)
        close0 = np.broadcast_to(market.close[0], self.positions.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.entry = close0 / state.entry_ratio
        self.t = 0

    def step(self, t: int, raw: np.ndarray) -> Step:
        """Session ``t``: pre-fill segment, fill of ``raw`` targets (decided at ``t-1``), post-fill segment."""
        m, costs = self.m, self.config.costs
        pos = self.positions * (1.0 + m.pre[t])
        before = self.cash + pos.sum(axis=-1)
        want = self._wanted(raw)
        active = m.valid[t] & self.pending & np.isfinite(want)
        weight = np.where(active, want, 0.0)
        if self.config.min_trade_weight > 0:
            first = np.abs(weight * before[..., None] - pos)
            active &= first >= self.config.min_trade_weight * before[..., None]
        nav_plus = before
        for _ in range(_MAX_ITER):
            wanted = np.where(active, weight * nav_plus[..., None] - pos, 0.0)
            delta = wanted if m.cap is None else np.clip(wanted, -m.cap[t], m.cap[t])
            cost = costs.trade_costs(delta).sum(axis=-1)
            borrow = costs.borrow_cost(pos + delta)
            new = before - cost - borrow
            done = np.max(np.abs(new - nav_plus), initial=0.0) <= _TOL * np.max(np.abs(before), initial=1.0)
            nav_plus = new
            if done:
                break
        if m.cap is not None and self.config.unfilled == "drop":
            self.pending &= ~(active & (np.abs(wanted) > np.broadcast_to(m.cap[t], wanted.shape)))
        self.cash = self.cash - delta.sum(axis=-1) - cost - borrow
        held = pos + delta
        self._track_entry(t, pos, held)
        self.positions = held if m.post is None else held * (1.0 + m.post[t])
        nav = self.cash + self.positions.sum(axis=-1)
        if self.config.stop_loss is not None:
            self._check_stops(t)
        self.t = t
        return Step(nav, before, delta, cost, borrow)

    def _wanted(self, raw: np.ndarray) -> np.ndarray:
        want = np.asarray(raw, dtype=np.float64)
        if self.config.stop_loss is not None:
            free = (self.locked != 0) & np.isfinite(want) & ((want == 0) | (np.sign(want) != self.locked))
            self.locked = np.where(free, 0, self.locked).astype(np.int8)
            want = np.where(self.locked != 0, 0.0, want)
        same = (want == self.executed) | (np.isnan(want) & np.isnan(self.executed))
        self.pending = self.pending | ~same
        self.executed = want
        return want

    def _track_entry(self, t: int, before: np.ndarray, after: np.ndarray) -> None:
        side, old = np.sign(after), np.sign(before)
        fill = np.broadcast_to(self.m.fill_price[t], after.shape)
        self.entry = np.where(side == 0, np.nan, np.where(side != old, fill, self.entry))

    def _check_stops(self, t: int) -> None:
        with np.errstate(invalid="ignore"):
            move = np.broadcast_to(self.m.close[t], self.positions.shape) / self.entry - 1.0
        stop = self.config.stop_loss
        hit_long = (self.positions > 0) & (move <= -stop)
        hit_short = (self.positions < 0) & (move >= stop)
        self.locked = np.where(hit_long, 1, np.where(hit_short, -1, self.locked)).astype(np.int8)

    def state(self, targets: np.ndarray) -> EngineState:
        """The state after the last step, with ``targets`` decided at its close."""
        from market_assets.quant.backtest.engine import EngineState

        close = np.broadcast_to(self.m.close[self.t], self.positions.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(self.positions != 0, close / self.entry, np.nan)
        nav = self.cash + self.positions.sum(axis=-1)
        return EngineState(nav, self.positions.copy(), targets.copy(), self.pending.copy(),
                           self.locked.copy(), ratio, self.executed.copy(), close.copy())
