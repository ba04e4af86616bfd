"""Returns and their lags, all on adjusted close (splits and dividends included).

``ret_{n}`` is the simple return over ``n`` sessions, ``ret_log_{n}`` the log
return; ``ret_lag_{k}`` / ``ret_log_lag_{k}`` are the one-session returns of
``k`` sessions ago (known at today's close).  Returns are never summed across
symbols.
"""

from __future__ import annotations

import numpy as np

from market_assets.quant.indicators.registry import FeatureSpec


def specs() -> list[FeatureSpec]:
    """All return feature specs."""
    out = []
    for n in (1, 5, 10, 20, 60):
        out.append(FeatureSpec(f"ret_{n}", "returns", f"Simple return over {n} session(s): close / close {n} ago - 1.",
                               n, kernel=lambda k, n=n: k["_c"] / k.lag("_c", n) - 1.0))
    for n in (1, 5, 20):
        out.append(FeatureSpec(f"ret_log_{n}", "returns", f"Log return over {n} session(s).", n,
                               kernel=lambda k, n=n: np.log(k["_c"] / k.lag("_c", n))))
    for j in range(1, 11):
        out += [
            FeatureSpec(f"ret_lag_{j}", "returns", f"One-session simple return of {j} session(s) ago.", j + 1,
                        kernel=lambda k, j=j: k.lag("_ret", j)),
            FeatureSpec(f"ret_log_lag_{j}", "returns", f"One-session log return of {j} session(s) ago.", j + 1,
                        kernel=lambda k, j=j: k.lag("_lret", j)),
        ]
    out += [
        FeatureSpec("gap", "returns", "Overnight gap: open / previous close - 1 (adjusted).", 1,
                    kernel=lambda k: k["_o"] / k.lag("_c", 1) - 1.0),
        FeatureSpec("ret_intraday", "returns", "Open-to-close return of the session: close / open - 1.", 0,
                    kernel=lambda k: k["_c"] / k["_o"] - 1.0),
    ]
    return out
