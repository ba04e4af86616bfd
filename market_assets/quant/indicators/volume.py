"""Volume features: OBV, accumulation/distribution, CMF, MFI, VPT, VWAP, ratios.

Volume is split-adjusted (shares of the panel's last session, see :mod:`._frame`).  OBV and the
A/D line are cumulative: their *level* depends on where history starts, so
they are flagged ``history_dependent`` (kept for TA-Lib parity); the windowed
flows ``obv_flow_20``, ``cmf_20`` and ``vpt_flow_20`` carry the same
information, comparably across symbols and reproducibly from a lookback.
"""

from __future__ import annotations

import numpy as np

from market_assets.quant.indicators.chunk import Chunk, derived, safe_div
from market_assets.quant.indicators.registry import FeatureSpec, TalibCall

# Typical-price changes within this relative size count as "unchanged" in MFI, as in
# TA-Lib >= 0.6 (measured: 1.96e-14 treated as equal, 2.06e-14 not); such changes are
# floating-point noise of the adjustment factor, not price moves.
TP_EQUAL_RTOL = 2e-14


@derived("_sv")
def signed_volume(k: Chunk) -> np.ndarray:
    """Volume signed by the close change (0 if unchanged); null on the first session."""
    return np.sign(k["_dc"]) * k["_v"]


@derived("_adv")
def ad_volume(k: Chunk) -> np.ndarray:
    """Money-flow volume ((C - L) - (H - C)) / (H - L) * V, 0 when H == L (TA-Lib AD)."""
    c, h, low, v = k["_c"], k["_h"], k["_l"], k["_v"]
    return np.where(h > low, ((c - low) - (h - c)) / (h - low) * v, 0.0)


def _cumulative(x: np.ndarray) -> np.ndarray:
    """Running sum from each symbol's first session (sequential, as polars ``cum_sum``)."""
    return np.cumsum(x, axis=0)


def _obv(k: Chunk) -> np.ndarray:
    """OBV: the first session counts +volume (TA-Lib), then signed volume."""
    signed = k["_sv"].copy()
    signed[0] = k["_v"][0]
    return _cumulative(signed)


@derived("_tpv")
def _money_flow(k: Chunk) -> np.ndarray:
    return k["_tp"] * k["_v"]


def _mfi_flows(k: Chunk) -> tuple[np.ndarray, np.ndarray]:
    """Money flow of sessions whose typical price rose / fell by more than the noise tolerance."""
    def compute() -> tuple[np.ndarray, np.ndarray]:
        tp, prev = k["_tp"], k.lag("_tp", 1)
        change, noise = tp - prev, TP_EQUAL_RTOL * np.abs(prev)
        flow = k["_tpv"]
        return np.where(change > noise, flow, 0.0), np.where(change < -noise, flow, 0.0)
    return k.memo(("mfi_flows",), compute)  # type: ignore[return-value]


derived("_mfi_pos")(lambda k: _mfi_flows(k)[0])
derived("_mfi_neg")(lambda k: _mfi_flows(k)[1])


def _mfi(k: Chunk, n: int) -> np.ndarray:
    """100 * positive / (positive + negative) flow over ``n`` sessions (null before session ``n``: warm-up)."""
    pos_sum, neg_sum = k.sum("_mfi_pos", n), k.sum("_mfi_neg", n)
    return 100.0 * safe_div(pos_sum, pos_sum + neg_sum)


@derived("_retv")
def _return_volume(k: Chunk) -> np.ndarray:
    return k["_ret"] * k["_v"]


@derived("_dollar_volume")
def _dollar_volume(k: Chunk) -> np.ndarray:
    return k["close"] * k["_v"]


def _log_dollar_volume(k: Chunk) -> np.ndarray:
    return np.where(k.sum("_v", 20) > 0, np.log(k.mean("_dollar_volume", 20)), np.nan)


def specs() -> list[FeatureSpec]:
    """All volume feature specs."""
    out = [
        FeatureSpec("obv", "volume", "On-balance volume: cumulative signed volume from the symbol's first session "
                    "(TA-Lib OBV). Level depends on the history start.", 0, kernel=_obv,
                    history_dependent=True, talib=TalibCall("OBV", ("close", "volume"))),
        FeatureSpec("ad", "volume", "Accumulation/distribution line: cumulative money-flow volume (TA-Lib AD). "
                    "Level depends on the history start.", 0, kernel=lambda k: _cumulative(k["_adv"]),
                    history_dependent=True, talib=TalibCall("AD", ("high", "low", "close", "volume"))),
        FeatureSpec("obv_flow_20", "volume", "OBV change over 20 sessions / volume traded in them, in [-1, 1].", 20,
                    kernel=lambda k: safe_div(k.sum("_sv", 20), k.sum("_v", 20))),
        FeatureSpec("cmf_20", "volume", "Chaikin money flow: sum of money-flow volume / sum of volume over 20 "
                    "sessions (the A/D change normalised).", 19,
                    kernel=lambda k: safe_div(k.sum("_adv", 20), k.sum("_v", 20))),
        FeatureSpec("vpt_flow_20", "volume", "Volume-price trend change over 20 sessions / volume: the "
                    "volume-weighted mean simple return.", 20,
                    kernel=lambda k: safe_div(k.sum("_retv", 20), k.sum("_v", 20))),
        FeatureSpec("mfi_14", "volume", "Money flow index over 14 sessions: 100 * positive / (positive + negative) "
                    "typical-price money flow; flows of unchanged typical price (within 2e-14 relative) count in neither (TA-Lib MFI).", 14,
                    kernel=lambda k: _mfi(k, 14), talib=TalibCall("MFI", ("high", "low", "close", "volume"),
                                                           {"timeperiod": 14})),
        FeatureSpec("dollar_volume_20", "volume", "log of the mean raw close * volume over 20 sessions.", 19,
                    kernel=_log_dollar_volume),
    ]
    for n in (5, 20):
        out.append(FeatureSpec(f"vwap_ratio_{n}", "volume", f"close / rolling VWAP - 1, VWAP = sum(TP * volume) / "
                               f"sum(volume) over {n} sessions, TP = (high + low + close) / 3.", n - 1,
                               kernel=lambda k, n=n: k["_c"] / safe_div(k.sum("_tpv", n), k.sum("_v", n)) - 1.0))
    for n in (5, 20, 60):
        out.append(FeatureSpec(f"volume_ratio_{n}", "volume", f"volume / mean volume over {n} sessions "
                               "(including today).", n - 1, kernel=lambda k, n=n: safe_div(k["_v"], k.mean("_v", n))))
    for j in range(1, 6):
        out.append(FeatureSpec(f"volume_ratio_lag_{j}", "volume", f"volume {j} sessions ago / today's volume.", j,
                               kernel=lambda k, j=j: safe_div(k.lag("_v", j), k["_v"])))
    return out
