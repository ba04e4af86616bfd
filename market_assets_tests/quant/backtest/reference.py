"""A deliberately naive backtest: plain Python loops over sessions and symbols, shares and cash.

Written from the timing convention of ``market_assets.quant.backtest.engine``
(targets of row t trade at t+1's fill, costs paid from cash, targets are
fractions of the post-cost NAV), sharing no code with it.
"""

from __future__ import annotations

import math

import numpy as np


def _finite(x: float) -> bool:
    return x == x and x > 0 and math.isfinite(x)


def reference_nav(
    targets: np.ndarray, open_: np.ndarray, close: np.ndarray, *, fill: str = "open", capital: float = 1e6,
    commission_bps: float = 0.0, min_commission: float = 0.0, slippage_bps: float = 0.0,
    borrow_bps: float = 0.0, participation: float | None = None, raw_price: np.ndarray | None = None,
    volume: np.ndarray | None = None,
) -> list[float]:
    """NAV at each close; NaN prices are missing bars (no fill, valued at the last close)."""
    T, N = targets.shape
    shares = [0.0] * N
    cash = capital
    last = [float(close[0][j]) if _finite(close[0][j]) else float("nan") for j in range(N)]
    navs = [capital]
    for t in range(1, T):
        px = [float(open_[t][j] if fill == "open" else close[t][j]) for j in range(N)]
        ok = [_finite(close[t][j]) and _finite(px[j]) for j in range(N)]
        mark = [px[j] if ok[j] else last[j] for j in range(N)]
        before = cash + sum(shares[j] * mark[j] for j in range(N) if shares[j] != 0)
        v = before
        for _ in range(500):
            trades, cost = [0.0] * N, 0.0
            for j in range(N):
                w = targets[t - 1][j]
                if not ok[j] or w != w:
                    continue
                dv = w * v - shares[j] * px[j]
                if participation is not None:
                    cap = participation * raw_price[t][j] * volume[t][j]
                    dv = max(-cap, min(cap, dv))
                trades[j] = dv
                if dv != 0:
                    cost += max(commission_bps / 1e4 * abs(dv), min_commission) + slippage_bps / 1e4 * abs(dv)
            short = sum(max(-(shares[j] * mark[j] + trades[j]), 0.0) for j in range(N))
            cost += borrow_bps / 1e4 / 252 * short
            new = before - cost
            if abs(new - v) < 1e-13 * abs(before):
                v = new
                break
            v = new
        for j in range(N):
            if trades[j] != 0:
                w = targets[t - 1][j]
                # a zero target closes the position exactly (no residual shares from rounding)
                shares[j] = 0.0 if w == 0 and participation is None else shares[j] + trades[j] / px[j]
        cash -= sum(trades) + cost
        for j in range(N):
            if _finite(close[t][j]) and ok[j]:
                last[j] = float(close[t][j])
        navs.append(cash + sum(shares[j] * last[j] for j in range(N) if shares[j] != 0))
    return navs


def reference_stats(navs: list[float]) -> tuple[float, float, float]:
    """Total return, annualised Sharpe (ddof=1) and maximum drawdown of a NAV path, by loops."""
    rets = [navs[i] / navs[i - 1] - 1.0 for i in range(1, len(navs))]
    mean = sum(rets) / len(rets)
    sd = math.sqrt(sum((r - mean) ** 2 for r in rets) / (len(rets) - 1))
    peak, worst = navs[0], 0.0
    for x in navs:
        peak = max(peak, x)
        worst = min(worst, x / peak - 1.0)
    return navs[-1] / navs[0] - 1.0, mean / sd * math.sqrt(252), worst
