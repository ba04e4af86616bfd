"""Volume features: OBV, accumulation/distribution, CMF, MFI, VPT, VWAP, ratios.

Volume is as reported (not split-adjusted, see :mod:`._frame`).  OBV and the
A/D line are cumulative: their *level* depends on where history starts, so
they are flagged ``history_dependent`` (kept for TA-Lib parity); the windowed
flows ``obv_flow_20``, ``cmf_20`` and ``vpt_flow_20`` carry the same
information, comparably across symbols and reproducibly from a lookback.
"""

from __future__ import annotations

import polars as pl

from market_assets.quant.indicators._frame import IDX, safe_div
from market_assets.quant.indicators.registry import FeatureSpec, TalibCall

C, H, L, V = pl.col("_c"), pl.col("_h"), pl.col("_l"), pl.col("_v")
# Typical-price changes within this relative size count as "unchanged" in MFI, as in
# TA-Lib >= 0.6 (measured: 1.96e-14 treated as equal, 2.06e-14 not); such changes are
# floating-point noise of the adjustment factor, not price moves.
TP_EQUAL_RTOL = 2e-14


def signed_volume() -> pl.Expr:
    """Volume signed by the close change (0 if unchanged); the first session counts +volume (TA-Lib OBV)."""
    return pl.when(pl.col(IDX) == 0).then(V).otherwise(pl.col("_dc").sign() * V)


def ad_volume() -> pl.Expr:
    """Money-flow volume ((C - L) - (H - C)) / (H - L) * V, 0 when H == L (TA-Lib AD)."""
    return pl.when(H > L).then(((C - L) - (H - C)) / (H - L) * V).otherwise(0.0)


def _mfi(n: int) -> pl.Expr:
    tp = pl.col("_tp")
    flow, change, noise = tp * V, tp - tp.shift(1), TP_EQUAL_RTOL * tp.shift(1).abs()
    pos = pl.when(change > noise).then(flow).otherwise(0.0)
    neg = pl.when(change < -noise).then(flow).otherwise(0.0)
    pos_sum, neg_sum = pos.rolling_sum(n), neg.rolling_sum(n)
    return pl.when(pl.col(IDX) >= n).then(100.0 * safe_div(pos_sum, pos_sum + neg_sum))


def specs() -> list[FeatureSpec]:
    """All volume feature specs."""
    out = [
        FeatureSpec("obv", "volume", "On-balance volume: cumulative signed volume from the symbol's first session "
                    "(TA-Lib OBV). Level depends on the history start.", 0, expr=lambda: signed_volume().cum_sum(),
                    history_dependent=True, talib=TalibCall("OBV", ("close", "volume"))),
        FeatureSpec("ad", "volume", "Accumulation/distribution line: cumulative money-flow volume (TA-Lib AD). "
                    "Level depends on the history start.", 0, expr=lambda: ad_volume().cum_sum(),
                    history_dependent=True, talib=TalibCall("AD", ("high", "low", "close", "volume"))),
        FeatureSpec("obv_flow_20", "volume", "OBV change over 20 sessions / volume traded in them, in [-1, 1].", 20,
                    expr=lambda: safe_div((pl.col("_dc").sign() * V).rolling_sum(20), V.rolling_sum(20))),
        FeatureSpec("cmf_20", "volume", "Chaikin money flow: sum of money-flow volume / sum of volume over 20 "
                    "sessions (the A/D change normalised).", 19,
                    expr=lambda: safe_div(ad_volume().rolling_sum(20), V.rolling_sum(20))),
        FeatureSpec("vpt_flow_20", "volume", "Volume-price trend change over 20 sessions / volume: the "
                    "volume-weighted mean simple return.", 20,
                    expr=lambda: safe_div((pl.col("_ret") * V).rolling_sum(20), V.rolling_sum(20))),
        FeatureSpec("mfi_14", "volume", "Money flow index over 14 sessions: 100 * positive / (positive + negative) "
                    "typical-price money flow; flows of unchanged typical price (within 2e-14 relative) count in neither (TA-Lib MFI).", 14,
                    expr=lambda: _mfi(14), talib=TalibCall("MFI", ("high", "low", "close", "volume"),
                                                           {"timeperiod": 14})),
        FeatureSpec("dollar_volume_20", "volume", "log of the mean raw close * volume over 20 sessions.", 19,
                    expr=lambda: pl.when(V.rolling_sum(20) > 0).then(
                        (pl.col("close") * V).rolling_mean(20).log())),
    ]
    for n in (5, 20):
        out.append(FeatureSpec(f"vwap_ratio_{n}", "volume", f"close / rolling VWAP - 1, VWAP = sum(TP * volume) / "
                               f"sum(volume) over {n} sessions, TP = (high + low + close) / 3.", n - 1,
                               expr=lambda n=n: C / safe_div((pl.col("_tp") * V).rolling_sum(n),
                                                             V.rolling_sum(n)) - 1.0))
    for n in (5, 20, 60):
        out.append(FeatureSpec(f"volume_ratio_{n}", "volume", f"volume / mean volume over {n} sessions "
                               "(including today).", n - 1, expr=lambda n=n: safe_div(V, V.rolling_mean(n))))
    for k in range(1, 6):
        out.append(FeatureSpec(f"volume_ratio_lag_{k}", "volume", f"volume {k} sessions ago / today's volume.", k,
                               expr=lambda k=k: safe_div(V.shift(k), V)))
    return out
