"""Returns and their lags, all on adjusted close (splits and dividends included).

``ret_{n}`` is the simple return over ``n`` sessions, ``ret_log_{n}`` the log
return; ``ret_lag_{k}`` / ``ret_log_lag_{k}`` are the one-session returns of
``k`` sessions ago (known at today's close).  Returns are never summed across
symbols.
"""

from __future__ import annotations

import polars as pl

from market_assets.quant.indicators.registry import FeatureSpec

C, O = pl.col("_c"), pl.col("_o")


def specs() -> list[FeatureSpec]:
    """All return feature specs."""
    out = []
    for n in (1, 5, 10, 20, 60):
        out.append(FeatureSpec(f"ret_{n}", "returns", f"Simple return over {n} session(s): close / close {n} ago - 1.",
                               n, expr=lambda n=n: C / C.shift(n) - 1.0))
    for n in (1, 5, 20):
        out.append(FeatureSpec(f"ret_log_{n}", "returns", f"Log return over {n} session(s).", n,
                               expr=lambda n=n: (C / C.shift(n)).log()))
    for k in range(1, 11):
        out += [
            FeatureSpec(f"ret_lag_{k}", "returns", f"One-session simple return of {k} session(s) ago.", k + 1,
                        expr=lambda k=k: pl.col("_ret").shift(k)),
            FeatureSpec(f"ret_log_lag_{k}", "returns", f"One-session log return of {k} session(s) ago.", k + 1,
                        expr=lambda k=k: pl.col("_lret").shift(k)),
        ]
    out += [
        FeatureSpec("gap", "returns", "Overnight gap: open / previous close - 1 (adjusted).", 1,
                    expr=lambda: O / C.shift(1) - 1.0),
        FeatureSpec("ret_intraday", "returns", "Open-to-close return of the session: close / open - 1.", 0,
                    expr=lambda: C / O - 1.0),
    ]
    return out
