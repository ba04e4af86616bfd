"""Nothing silently dropped or invented: random defect injection (hypothesis-style, by hand)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import polars as pl
import pytest

from market_assets.quant.validation import validate_prices
from market_assets.schema import PRICE_SCHEMA

LOOKBACK = 5
# kind -> reason code of the injected row; in-place kinds edit a row, the others add one
IN_PLACE = {
    "nan_close": "null_value", "null_volume": "null_value", "inf_high": "null_value",
    "negative_low": "nonpositive_price", "zero_open": "nonpositive_price", "high_below_low": "ohlc_inconsistent",
    "negative_volume": "negative_volume", "jump": "unexplained_jump", "unknown_symbol": "unknown_symbol",
}
ADDED = {"copy": "duplicate_row", "conflict": "duplicate_key_conflict", "off_session": "date_not_in_sessions"}


def clean_market(n_symbols: int, n_sessions: int, rng: np.random.Generator) -> tuple[pl.DataFrame, list, list]:
    """Consistent OHLCV of a random walk, long format, source "clean"."""
    start = dt.date(2023, 1, 2)
    days = [start + dt.timedelta(days=i) for i in range(n_sessions * 2)]
    sessions = [d for d in days if d.weekday() < 5][:n_sessions]
    symbols = [f"S{i:02d}" for i in range(n_symbols)]
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_sessions, n_symbols)), axis=0))
    open_ = close * np.exp(rng.normal(0, 0.01, close.shape))
    frame = pl.DataFrame({
        "date": [d for d in sessions for _ in symbols], "symbol": symbols * n_sessions,
        "open": open_.ravel(), "high": (np.maximum(open_, close) * 1.01).ravel(),
        "low": (np.minimum(open_, close) * 0.99).ravel(), "close": close.ravel(), "adj_close": close.ravel(),
        "volume": rng.uniform(1e3, 1e4, close.size), "source": "clean",
    }, schema=PRICE_SCHEMA)
    return frame, sessions, symbols


def inject(frame: pl.DataFrame, sessions: list, symbols: list, rng: np.random.Generator) -> pl.DataFrame:
    """Each defect on its own target row, at least 6 sessions apart per symbol (so one
    defect never shifts another row's jump reference median), rows shuffled; source
    names the defect."""
    s_idx = frame["date"].map_elements(sessions.index, return_dtype=pl.Int64).to_numpy()
    y_idx = frame["symbol"].map_elements(symbols.index, return_dtype=pl.Int64).to_numpy()
    candidates = np.flatnonzero((s_idx >= LOOKBACK) & (s_idx % 6 == y_idx % 6))
    kinds = list(IN_PLACE) + list(ADDED)
    chosen = rng.choice(candidates, size=2 * len(kinds), replace=False)
    rows = frame.to_dicts()
    added = []
    for position, kind in zip(chosen, kinds * 2):
        row = rows[position]
        # an exact copy stays "clean": whichever copy comes first in raw order is kept
        edited = {**row, "source": "clean" if kind == "copy" else f"defect:{kind}"}
        if kind in ADDED:
            if kind == "conflict":
                edited["volume"] = row["volume"] + 1
            if kind == "off_session":
                edited["date"] = row["date"] + dt.timedelta(days=5 - row["date"].weekday())  # Saturday
            added.append(edited)
            continue
        edited.update({
            "nan_close": {"close": float("nan")}, "null_volume": {"volume": None}, "inf_high": {"high": float("inf")},
            "negative_low": {"low": -row["low"]}, "zero_open": {"open": 0.0},
            "high_below_low": {"high": row["low"], "low": row["high"]}, "negative_volume": {"volume": -1.0},
            "jump": {"adj_close": row["adj_close"] * 0.1}, "unknown_symbol": {"symbol": "../etc/passwd"},
        }[kind])
        rows[position] = edited
    shuffled = rows + added
    order = rng.permutation(len(shuffled))
    return pl.DataFrame([shuffled[i] for i in order], schema=PRICE_SCHEMA, orient="row")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_target_row_is_validated_or_rejected_with_its_injected_reason(seed):
    rng = np.random.default_rng(seed)
    frame, sessions, symbols = clean_market(n_symbols=12, n_sessions=40, rng=rng)
    raw = inject(frame, sessions, symbols, rng)
    result = validate_prices(raw, sessions=sessions[LOOKBACK:], universe=symbols)

    n_target = raw.filter(pl.col("date") >= sessions[LOOKBACK]).height
    assert result.validated.height + result.rejections.height == n_target
    assert result.validated.select("date", "symbol").is_duplicated().sum() == 0
    assert result.validated.equals(result.validated.sort("date", "symbol"))
    assert set(result.validated["source"]) == {"clean"}

    expected = {**IN_PLACE, "conflict": "duplicate_key_conflict", "off_session": "date_not_in_sessions"}
    got = Counter(zip(result.rejections["source"], result.rejections["reasons"]))
    assert got == Counter({(f"defect:{kind}", code): 2 for kind, code in expected.items()}
                          | {("clean", "duplicate_key_conflict"): 2, ("clean", "duplicate_row"): 2})

    failing = {o.check_name: o.failing_count for o in result.outcomes}
    assert failing == {
        "prices_have_schema": 0, "values_are_present": 6, "keys_are_unique": 6, "symbols_are_known": 2,
        "prices_are_positive": 4, "ohlc_is_consistent": 2, "volume_is_nonnegative": 2,
        "no_unexplained_jumps": 2, "sessions_are_complete": 2 * len(IN_PLACE) + 2 + 2,
    }  # bad cells: every in-place defect and conflict; plus the off-session rows
    assert [o.check_name for o in result.blocking_failures] == []
