"""Target weights → fills → portfolio returns, on ``sessions × symbols`` arrays.

Timing convention
-----------------
Row ``t`` of ``targets`` is decided with information up to **session t's
close** (a prediction dated ``t`` is made after t's close).  It is executed at
**session t+1**, at its open (``fill="open"``) or at its close
(``fill="close"``), never on bar ``t`` itself, and the new positions earn
returns **from the fill price onwards**.  Each session ``t >= 1`` is a fill
between two segments of adjusted prices:

1. *pre-fill*: from close ``t-1`` to the fill price of ``t`` (the overnight
   gap for open fills, the whole session for close fills), earned by the
   positions held at close ``t-1``;
2. the trade at the fill price, costs paid from cash (:mod:`.costs`);
3. *post-fill*: from the fill price to close ``t`` (the session's body for
   open fills, nothing for close fills), earned by the new positions.

Row 0 is the anchor: NAV is ``initial_capital`` (or the state's NAV) at its
close, nothing trades on it and its return is 0; the targets of the last row
are never executed inside the window (they are returned in the final state).

Trades and limits
-----------------
* Targets are fractions of the post-trade NAV (see :mod:`.costs`).  Every
  session, each symbol is traded to its target ("rebalancing", drift
  included); a NaN target means *hold* (no order).
* An invalid bar (:mod:`.panel`: missing or rejected) never fills: the
  position is held and valued at the last valid close until the next valid
  bar, whose return then includes the whole move.  The state keeps that
  close (``valuation_close``), so a period whose anchor has no valid bar for
  a held symbol continues from it: chained periods equal one run.
* ``participation``: one fill trades at most ``participation * raw fill price
  * volume`` of the session (currency).  ``unfilled="carry"`` keeps aiming at
  the target in later sessions; ``"drop"`` holds what was filled until the
  symbol's target changes.
* ``min_trade_weight``: trades smaller than this fraction of the pre-trade
  NAV are skipped (a no-trade band; the test uses the trade sized at the
  pre-trade NAV).
* ``stop_loss``: at a session's close, a position whose close has moved
  against it by ``stop_loss`` or more from its entry fill (the fill that
  opened it from flat or flipped its side; adding to it keeps the entry) is
  closed at the next session's fill, and the symbol stays flat until its
  target is 0 or changes side.

Proportional costs without caps, bands or stops, with finite targets and no
position across an invalid bar, take a path computed in weights for all
sessions at once; anything path-dependent takes a loop over sessions
(vectorised over symbols).  Both implement the same equations (tested equal).
Arrays may carry batch axes between time and symbols (``(T, *batch, N)``):
independent portfolios, e.g. configurations of a sweep or one per symbol.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from market_assets.quant.backtest.arrays import cumprod0, sum_last
from market_assets.quant.backtest.costs import CostModel, post_trade_scale
from market_assets.quant.backtest.panel import MarketPanel


@dataclass(frozen=True)
class ExecutionConfig:
    """How targets become fills (see module docstring)."""

    fill: str = "open"  #: "open" or "close" of the session after the signal
    initial_capital: float = 1_000_000.0  #: NAV at the first close, currency (min commission, volume cap)
    costs: CostModel = field(default_factory=CostModel)  #: commission, slippage, borrow
    participation: float | None = None  #: max share of the session's traded value per fill
    unfilled: str = "carry"  #: "carry" or "drop" the part a participation cap left unfilled
    min_trade_weight: float = 0.0  #: skip trades below this fraction of NAV
    stop_loss: float | None = None  #: adverse move from the entry fill that closes a position

    def __post_init__(self) -> None:
        if self.fill not in ("open", "close"):
            raise ValueError(f"fill={self.fill!r}; expected 'open' or 'close' (of the session after the signal)")
        if self.unfilled not in ("carry", "drop"):
            raise ValueError(f"unfilled={self.unfilled!r}; expected 'carry' or 'drop'")
        if not self.initial_capital > 0:
            raise ValueError(f"initial_capital={self.initial_capital!r}; expected a positive amount")
        if self.participation is not None and not 0 < self.participation <= 1:
            raise ValueError(f"participation={self.participation!r}; expected a share in (0, 1] or None")
        if self.stop_loss is not None and not 0 < self.stop_loss < 1:
            raise ValueError(f"stop_loss={self.stop_loss!r}; expected a fraction in (0, 1) or None")
        if not self.min_trade_weight >= 0:
            raise ValueError(f"min_trade_weight={self.min_trade_weight!r}; expected >= 0")

    @property
    def path_dependent(self) -> bool:
        """Whether the loop over sessions is needed."""
        return (not self.costs.is_proportional or self.participation is not None
                or self.min_trade_weight > 0 or self.stop_loss is not None)


@dataclass(frozen=True)
class EngineState:
    """Everything needed to continue at the next session (arrays ``(*batch, N)``)."""

    nav: np.ndarray  #: NAV at the close, currency
    positions: np.ndarray  #: market value per symbol at the close, currency
    targets: np.ndarray  #: targets decided at this close, to execute at the next session
    pending: np.ndarray  #: bool: still aiming at the target (False after a dropped remainder)
    locked: np.ndarray  #: side (+1/-1) a stop-loss closed, 0 when free
    entry_ratio: np.ndarray  #: close / entry fill of open positions (NaN when flat)
    executed: np.ndarray  #: targets executed at this session's fill (to see the next change)
    #: adjusted close of each symbol's last valid bar, at which it is valued (NaN before its first)
    valuation_close: np.ndarray

    @classmethod
    def flat(cls, shape: tuple[int, ...], capital: float) -> EngineState:
        """No positions, no targets, ``capital`` in cash."""
        return cls(np.full(shape[:-1], float(capital)), np.zeros(shape), np.zeros(shape),
                   np.ones(shape, bool), np.zeros(shape, np.int8), np.full(shape, np.nan), np.zeros(shape),
                   np.full(shape, np.nan))


@dataclass(frozen=True)
class Simulation:
    """Per-session results; ``(T, *batch)`` or ``(T, *batch, N)`` arrays."""

    returns: np.ndarray  #: net NAV return of the session (close to close)
    nav: np.ndarray  #: NAV at the close, currency
    weights: np.ndarray  #: position / NAV at the close
    trades: np.ndarray  #: signed trade value / pre-trade NAV
    costs: np.ndarray  #: commission + slippage / pre-trade NAV
    borrow: np.ndarray  #: borrow fee / pre-trade NAV
    final: EngineState  #: state at the last close


def simulate(
    targets: np.ndarray, panel: MarketPanel, config: ExecutionConfig, state: EngineState | None = None,
    *, isolated: bool = False,
) -> Simulation:
    """Run target weights through the market (see module docstring for the timing).

    Parameters
    ----------
    targets
        ``(T, *batch, N)``, row ``t`` decided at session t's close; finite
        weights, or NaN for *hold*.  With ``state`` given, row 0 is replaced
        by ``state.targets`` (decided at the same close in the previous run).
    panel
        Prices on the same sessions and symbols, ``(T, N)``.
    config
        Fills, costs and limits.
    state
        The state at the close of row 0 (from :attr:`Simulation.final` of the
        previous period); default: flat with ``config.initial_capital``.  A
        symbol without a valid bar on row 0 is valued at the state's
        ``valuation_close`` there.
    isolated
        Each symbol is its own portfolio with its own ``initial_capital``
        (like vectorbt's ungrouped columns): ``targets`` is ``(T, N)``, the
        results' batch axis is the symbols (``returns``, ``nav``: ``(T, N)``;
        ``weights``, ``trades``: ``(T, N, 1)``).
    """
    targets = np.asarray(targets, dtype=np.float64)
    T, N = panel.shape
    anchor = None if state is None else _anchor_close(state.valuation_close, isolated=isolated)
    if isolated:
        if targets.shape != (T, N):
            raise ValueError(f"isolated targets have shape {targets.shape}; expected the panel's {(T, N)}")
        market = _segments(panel, config, 0, anchor)
        market = _Market(*(None if a is None else a[..., None] for a in
                           (market.pre, market.post, market.valid, market.fill_price, market.close, market.cap)),
                         market.complete)
        targets = targets[..., None]
    elif targets.ndim < 2 or targets.shape[0] != T or targets.shape[-1] != N:
        raise ValueError(f"targets have shape {targets.shape}; expected ({T}, ..., {N}) to match the panel "
                         "(sessions first, symbols last)")
    else:
        market = _segments(panel, config, targets.ndim - 2, anchor)
    if state is None:
        state = EngineState.flat(targets.shape[1:], config.initial_capital)
    else:
        targets = targets.copy()
        targets[0] = state.targets
    fast = (not config.path_dependent and np.isfinite(targets).all() and bool(state.pending.all())
            and not state.locked.any())
    if fast:
        result = _vectorised(targets, market, config.costs, state)
        if result is not None:
            return result
    return _loop(targets, market, config, state)


@dataclass(frozen=True)
class _Market:
    pre: np.ndarray  # return from close t-1 to the fill of t
    post: np.ndarray | None  # return from the fill of t to close t (None: close fills, always 0)
    valid: np.ndarray  # bar t can fill
    fill_price: np.ndarray  # adjusted fill price (valuation-filled)
    close: np.ndarray  # adjusted close, forward-filled over invalid bars
    cap: np.ndarray | None  # max trade value per fill, currency
    complete: bool  # every bar valid


def _anchor_close(valuation_close: np.ndarray, *, isolated: bool = False) -> np.ndarray:
    """``(N,)`` per symbol, the state's valuation close (the same for every portfolio of a batch)."""
    marks = np.asarray(valuation_close, dtype=np.float64)
    if isolated:  # the batch axis is the symbols, each a one-symbol portfolio
        return marks[..., 0]
    return np.fmax.reduce(marks.reshape(-1, marks.shape[-1]), axis=0)


def _segments(panel: MarketPanel, config: ExecutionConfig, n_batch: int, anchor: np.ndarray | None) -> _Market:
    valid = panel.valid_bars(config.fill)
    complete = bool(valid.all())
    if complete:
        close = panel.close
    else:
        close = np.where(valid, panel.close, np.nan)
        if anchor is not None:  # no valid bar on the anchor: the close the state valued the symbol at
            close[0] = np.where(valid[0], close[0], anchor)
        close = _ffill(close)
    previous = np.empty_like(close)
    previous[0], previous[1:] = np.nan, close[:-1]
    adjusted, raw = panel.fill_prices(config.fill)
    opening = config.fill == "open"
    fill = (adjusted if complete else np.where(valid, adjusted, previous)) if opening else close
    pre = np.empty_like(close)
    pre[0] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(fill[1:], close[:-1], out=pre[1:])
        pre[1:] -= 1.0
        post = np.divide(close, fill) if opening else None
    if post is not None:
        post -= 1.0
    if not complete:
        pre = np.nan_to_num(pre, nan=0.0, posinf=0.0, neginf=0.0)
        post = None if post is None else np.nan_to_num(post, nan=0.0, posinf=0.0, neginf=0.0)
    cap = None
    if config.participation is not None:
        cap = np.where(valid, np.nan_to_num(config.participation * raw * panel.volume, nan=0.0), 0.0)

    def expand(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else a.reshape((a.shape[0],) + (1,) * n_batch + (a.shape[1],))

    return _Market(expand(pre), expand(post), expand(valid), expand(fill), expand(close), expand(cap), complete)


def _ffill(values: np.ndarray) -> np.ndarray:
    rows = np.where(np.isfinite(values), np.arange(values.shape[0])[:, None], 0)
    np.maximum.accumulate(rows, axis=0, out=rows)
    return np.take_along_axis(values, rows, axis=0)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sum over symbols of ``a * b``."""
    return sum_last(a * b)


def _vectorised(targets: np.ndarray, m: _Market, costs: CostModel, state: EngineState) -> Simulation | None:
    """All sessions at once: post-trade weights equal the targets. None if an invalid bar must hold."""
    u = np.empty_like(targets)  # executed at t
    u[0], u[1:] = 0.0, targets[:-1]
    if m.post is None:  # close fills: nothing between the fill and the close
        g2, held = 1.0, u.copy()
    else:
        held = np.add(m.post, 1.0, out=np.empty(np.broadcast_shapes(u.shape, m.post.shape)))
        held *= u
        g2 = 1.0 + _dot(u, m.post)
        held /= g2[..., None]  # weights at close t
    held[0] = state.positions / state.nav[..., None]
    before = np.empty_like(held)  # weights at close t-1
    before[0], before[1:] = held[0], held[:-1]
    if not m.complete and np.any(~m.valid[1:] & ((u[1:] != 0) | (before[1:] != 0))):
        return None
    g1 = 1.0 + _dot(before, m.pre)
    drifted = np.add(m.pre, 1.0, out=np.empty(np.broadcast_shapes(before.shape, m.pre.shape)))
    drifted *= before
    drifted /= g1[..., None]
    v = post_trade_scale(u, drifted, costs)
    trades = np.multiply(u, v[..., None])
    trades -= drifted
    growth = g1 * v
    growth *= g2
    growth[0] = 1.0
    trades[0] = 0.0
    nav = cumprod0(growth)
    nav *= state.nav
    cost = sum_last(np.abs(trades))
    cost *= costs.proportional_rate
    if costs.borrow_rate_per_session:
        borrow = costs.borrow_rate_per_session * sum_last(np.maximum(-u, 0.0)) * v
    else:
        borrow = np.zeros_like(cost)
    cost[0] = borrow[0] = 0.0
    positions = held[-1] * nav[-1][..., None]
    entry = _entry_ratio_of(held, m, state.entry_ratio)
    final = replace(state, nav=nav[-1], positions=positions, targets=targets[-1].copy(),
                    entry_ratio=entry, executed=u[-1].copy() if len(u) > 1 else state.executed,
                    valuation_close=np.broadcast_to(m.close[-1], positions.shape).copy())
    return Simulation(growth - 1.0, nav, held, trades, cost, borrow, final)


def _entry_ratio_of(held: np.ndarray, m: _Market, start_ratio: np.ndarray) -> np.ndarray:
    """Close / entry fill at the last close, so that a later period can apply a stop-loss."""
    last = _last_side_change(held)
    fill = np.broadcast_to(m.fill_price, held.shape)
    close = np.broadcast_to(m.close, held.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = close[-1] / np.take_along_axis(fill, last[None], axis=0)[0]
        since_start = start_ratio * close[-1] / close[0]
    return np.where(held[-1] == 0, np.nan, np.where(last == 0, since_start, ratio))


def _last_side_change(held: np.ndarray, block: int = 64) -> np.ndarray:
    """Per column, the last session whose side (sign) differs from the session before; 0 if none.

    Scans backwards in blocks of sessions, dropping the columns already found,
    so a book that trades now and then costs a few blocks, not the whole panel.
    """
    flat = held.reshape(len(held), -1)
    last = np.zeros(flat.shape[1], dtype=np.int64)
    todo = np.arange(flat.shape[1])
    end = len(held)
    while todo.size and end > 1:
        start = max(1, end - block)
        side = np.sign(flat[start - 1:end, todo])
        changed = side[1:] != side[:-1]  # sessions start .. end-1
        hit = changed.any(axis=0)
        found = start + changed.shape[0] - 1 - np.argmax(changed[::-1], axis=0)
        last[todo[hit]] = found[hit]
        todo, end = todo[~hit], start
    return last.reshape(held.shape[1:])


def _loop(targets: np.ndarray, m: _Market, config: ExecutionConfig, s: EngineState) -> Simulation:
    """Session by session, vectorised over batch and symbols."""
    from market_assets.quant.backtest.stepping import Stepper

    stepper = Stepper(config, s, m)
    T = targets.shape[0]
    out = {k: np.zeros((T,) + targets.shape[1:-1]) for k in ("returns", "costs", "borrow")}
    nav = np.empty((T,) + targets.shape[1:-1])
    weights, trades = np.zeros_like(targets), np.zeros_like(targets)
    nav[0] = s.nav
    weights[0] = s.positions / s.nav[..., None]
    for t in range(1, T):
        step = stepper.step(t, targets[t - 1])
        nav[t] = step.nav
        out["returns"][t] = step.nav / nav[t - 1] - 1.0
        out["costs"][t], out["borrow"][t] = step.costs / step.before, step.borrow / step.before
        trades[t] = step.trades / step.before[..., None]
        weights[t] = stepper.positions / step.nav[..., None]
    return Simulation(out["returns"], nav, weights, trades, out["costs"], out["borrow"],
                      stepper.state(targets[-1]))
