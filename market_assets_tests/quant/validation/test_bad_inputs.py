"""A corpus of bad raw inputs, each with its golden outcome.

Every case is a 5-symbol universe over target sessions S1, S2 with S0 as
lookback (10 expected cells, so one bad cell is 10%: WARN).  A case lists the
rejections (date, symbol, reasons), the failed checks with their severity, and
exact ``details`` lines where the message matters.
"""

from __future__ import annotations

import builtins
import io
import os
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pytest

from market_assets.quant.validation import validate_prices
from market_assets_tests.quant.validation.frames import S0, S1, S2, D, bar, prices

UNIVERSE = ("AAA", "BBB", "CCC", "DDD", "EEE")
TARGET = (S1, S2)
SATURDAY = D(2024, 1, 6)


def base_rows() -> list[dict[str, Any]]:
    return [bar(d, s) for d in (S0, *TARGET) for s in UNIVERSE]


def base() -> pl.DataFrame:
    return prices(*base_rows())


def edit(*cells: tuple[Any, str], **fields: Any) -> pl.DataFrame:
    """The base with each (date, symbol) row of ``cells`` (default (S2, AAA)) replaced
    by ``bar(date, symbol, **fields)``."""
    cells = cells or ((S2, "AAA"),)
    rows = [bar(*key, **fields) if (key := (r["date"], r["symbol"])) in cells else r for r in base_rows()]
    return prices(*rows)


def add(*extra: dict[str, Any]) -> pl.DataFrame:
    return prices(*base_rows(), *extra)


def sessions_line(missing: int, rejected: int, outside: int = 0, empty: str = "none") -> str:
    bad = missing + rejected
    return (f"{bad} of 10 (session, symbol) cells bad ({bad / 10:.1%}): {missing} missing, {rejected} rejected; "
            f"rows dated outside the sessions: {outside}; sessions without a valid row: {empty}; "
            "ERROR when a session has more than 20.0% bad cells")


@dataclass(frozen=True)
class Case:
    id: str
    raw: pl.DataFrame
    rejected: list[tuple[Any, str, str]] = field(default_factory=list)  # (date, symbol, reasons)
    failed: dict[str, str] = field(default_factory=dict)  # check -> severity, evaluated checks only
    details: dict[str, str] = field(default_factory=dict)  # check -> exact details line
    validated: int | None = None  # default: target rows minus rejections


A2 = "2024-01-04"
ONE_BAD_CELL = {"sessions_are_complete": "WARN"}
CASES = [
    Case("nan_price", edit(close=float("nan")), [(S2, "AAA", "null_value")],
         {"values_are_present": "WARN", **ONE_BAD_CELL},
         {"values_are_present": "1 of 10 target rows rejected (1 null_value)",
          "sessions_are_complete": sessions_line(0, 1)}),
    Case("null_volume", edit(volume=None), [(S2, "AAA", "null_value")],
         {"values_are_present": "WARN", **ONE_BAD_CELL}),
    Case("infinite_high", edit(high=float("inf")), [(S2, "AAA", "null_value")],
         {"values_are_present": "WARN", **ONE_BAD_CELL}),
    Case("negative_price", edit(low=-9.0), [(S2, "AAA", "nonpositive_price")],
         {"prices_are_positive": "WARN", **ONE_BAD_CELL}),
    Case("zero_price", edit(open=0.0), [(S2, "AAA", "nonpositive_price")],
         {"prices_are_positive": "WARN", **ONE_BAD_CELL},
         {"prices_are_positive": "1 of 10 target rows rejected (1 nonpositive_price)"}),
    Case("high_below_low", edit(high=8.0, low=12.0), [(S2, "AAA", "ohlc_inconsistent")],
         {"ohlc_is_consistent": "WARN", **ONE_BAD_CELL}),
    Case("negative_volume", edit(volume=-100.0), [(S2, "AAA", "negative_volume")],
         {"volume_is_nonnegative": "WARN", **ONE_BAD_CELL}),
    Case("exact_duplicate_row", add(bar(S2, "AAA")), [(S2, "AAA", "duplicate_row")], {"keys_are_unique": "WARN"},
         {"keys_are_unique": "1 of 11 target rows rejected (1 duplicate_row, 0 duplicate_key_conflict)"}),
    Case("conflicting_duplicate_key", add(bar(S2, "AAA", close=10.6)),
         [(S2, "AAA", "duplicate_key_conflict")] * 2, {"keys_are_unique": "WARN", **ONE_BAD_CELL}),
    Case("unsorted_rows", base().reverse()),
    Case("integer_volume_is_widened", base().with_columns(pl.col("volume").cast(pl.Int64))),
    Case("missing_column", base().drop("adj_close"), failed={"prices_have_schema": "ERROR"},
         details={"prices_have_schema": "missing column 'adj_close' (expected dtype Float64)"}, validated=0),
    Case("close_as_string", base().with_columns(pl.col("close").cast(pl.String)),
         failed={"prices_have_schema": "ERROR"},
         details={"prices_have_schema": "column 'close' has dtype String, expected Float64"}, validated=0),
    Case("timestamps_instead_of_dates", base().with_columns(pl.col("date").cast(pl.Datetime("ms"))),
         failed={"prices_have_schema": "ERROR"}, validated=0,
         details={"prices_have_schema": "column 'date' has dtype Datetime(time_unit='ms', time_zone=None), "
                                        "expected Date"}),
    Case("empty_frame", prices(), failed={"sessions_are_complete": "ERROR"},
         details={"sessions_are_complete": sessions_line(10, 0, empty="['2024-01-03', '2024-01-04']")}),
    Case("drop_of_90_percent_without_split", edit(open=1.0, high=1.1, low=0.9, close=1.05),
         [(S2, "AAA", "unexplained_jump")], {"no_unexplained_jumps": "WARN", **ONE_BAD_CELL},
         {"no_unexplained_jumps": "1 of 10 target rows rejected (1 unexplained_jump); "
                                  "largest |ln(adj_close / reference)| 2.303, limit 1.0"}),
    Case("split_2_for_1_explained_by_adj_close", edit(open=5.0, high=5.5, low=4.5, close=5.25, adj_close=10.5)),
    Case("split_10_for_1_explained_by_adj_close", edit(open=1.0, high=1.1, low=0.9, close=1.05, adj_close=10.5)),
    Case("unknown_symbol", add(bar(S2, "ZZZ")), [(S2, "ZZZ", "unknown_symbol")], {"symbols_are_known": "WARN"}),
    Case("path_traversal_symbol", add(bar(S2, "../etc/passwd")), [(S2, "../etc/passwd", "unknown_symbol")],
         {"symbols_are_known": "WARN"}),
    Case("sql_injection_symbol", add(bar(S2, "AAPL;DROP TABLE")), [(S2, "AAPL;DROP TABLE", "unknown_symbol")],
         {"symbols_are_known": "WARN"}),
    Case("missing_session_for_one_symbol", base().filter((pl.col("date") != S2) | (pl.col("symbol") != "EEE")),
         failed=ONE_BAD_CELL, details={"sessions_are_complete": sessions_line(1, 0)}),
    Case("too_many_bad_rows", edit((S1, "AAA"), (S2, "AAA"), (S2, "BBB"), close=float("nan")),
         [(S1, "AAA", "null_value"), (S2, "AAA", "null_value"), (S2, "BBB", "null_value")],
         {"values_are_present": "WARN", "sessions_are_complete": "ERROR"},
         {"sessions_are_complete": sessions_line(0, 3)}),
    Case("null_date", add(bar(None, "AAA")), [(None, "AAA", "null_value;date_not_in_sessions")],
         {"values_are_present": "WARN", "sessions_are_complete": "WARN"},
         {"sessions_are_complete": sessions_line(0, 0, outside=1)}),
    Case("weekend_row_inside_the_window", add(bar(SATURDAY, "AAA")), [(SATURDAY, "AAA", "date_not_in_sessions")],
         {"sessions_are_complete": "WARN"}, {"sessions_are_complete": sessions_line(0, 0, outside=1)}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_has_its_golden_outcome(case: Case):
    result = validate_prices(case.raw, sessions=TARGET, universe=UNIVERSE)
    assert result.rejections.select("date", "symbol", "reasons").rows() == case.rejected
    assert {o.check_name: o.severity for o in result.outcomes if o.evaluated and not o.passed} == case.failed
    for check, line in case.details.items():
        assert result.outcome(check).details == line
    if case.validated is None:
        n_target = case.raw.filter(pl.col("date").is_null() | (pl.col("date") > S0)).height
        assert result.validated.height + len(case.rejected) == n_target
    else:
        assert result.validated.height == case.validated
    assert result.validated.equals(result.validated.sort("date", "symbol"))


def test_corpus_is_large_enough():
    assert len(CASES) >= 15


def test_injection_like_symbols_never_reach_a_path(monkeypatch, tmp_path):
    opened: list[str] = []

    def spy(real):
        def wrapper(path, *args, **kwargs):
            opened.append(os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else str(path))
            return real(path, *args, **kwargs)
        return wrapper

    monkeypatch.chdir(tmp_path)
    for module, name in ((builtins, "open"), (io, "open"), (os, "open")):
        monkeypatch.setattr(module, name, spy(getattr(module, name)))
    raw = add(bar(S2, "../etc/passwd"), bar(S2, "AAPL;DROP TABLE"), bar(S2, "..\\..\\boot.ini"))
    result = validate_prices(raw, sessions=TARGET, universe=UNIVERSE)
    assert result.rejections["symbol"].to_list() == ["../etc/passwd", "..\\..\\boot.ini", "AAPL;DROP TABLE"]
    assert not [p for p in opened if "passwd" in p or "DROP" in p or "boot" in p]
    assert list(tmp_path.iterdir()) == []
