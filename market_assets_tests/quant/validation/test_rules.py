"""The rule table and the polars helper columns (no Great Expectations here)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from market_assets.quant.validation import REASON_CODES, RULES, ValidationConfig
from market_assets.quant.validation.rules import (
    COPY_INDEX,
    HIGH_GAP,
    IN_SESSIONS,
    JUMP_REFERENCE,
    KEY_VERSIONS,
    LOG_JUMP,
    LOW_GAP,
    ROW,
    SYMBOL_KNOWN,
    add_rule_columns,
    evaluation_frame,
    expectation_specs,
    jump_reference,
    schema_problems,
)
from market_assets_tests.quant.validation.frames import CHECK_NAMES, S0, S1, S2, S3, S4, D, bar, closes, prices


def helpers(raw: pl.DataFrame, sessions=(S0,), universe=("AAA",), reference_sessions: int = 5) -> pl.DataFrame:
    return add_rule_columns(raw, sessions=list(sessions), universe=list(universe),
                            reference_sessions=reference_sessions)


def test_rule_table_names_checks_and_reason_codes_in_order():
    assert tuple(rule.check_name for rule in RULES) == CHECK_NAMES
    assert REASON_CODES == (
        "null_value", "duplicate_row", "duplicate_key_conflict", "unknown_symbol", "nonpositive_price",
        "ohlc_inconsistent", "negative_volume", "unexplained_jump", "date_not_in_sessions",
    )
    assert all(rule.description and "\n" not in rule.description for rule in RULES)


def test_expectation_specs_carry_config_thresholds():
    specs = expectation_specs(ValidationConfig(max_abs_log_jump=0.5, ohlc_rel_tolerance=1e-6))
    assert len(specs) == 22
    assert [s.reason_code for s in specs].count("null_value") == 9
    by_column = {(s.reason_code, s.kwargs["column"]): s.kwargs for s in specs}
    assert by_column[("unexplained_jump", LOG_JUMP)] == {"column": LOG_JUMP, "min_value": -0.5, "max_value": 0.5}
    assert by_column[("ohlc_inconsistent", HIGH_GAP)]["max_value"] == 1e-6
    assert by_column[("nonpositive_price", "adj_close")] == {"column": "adj_close", "min_value": 0, "strict_min": True}
    # rule order: the codes of the specs appear in REASON_CODES order
    seen = list(dict.fromkeys(s.reason_code for s in specs))
    assert seen == list(REASON_CODES)


def test_schema_problems_lists_every_problem_with_dtypes():
    raw = prices(bar(S0)).drop("volume").with_columns(pl.col("close").cast(pl.String), pl.col("date").cast(pl.Datetime))
    assert schema_problems(raw) == [
        "column 'date' has dtype Datetime(time_unit='us', time_zone=None), expected Date",
        "column 'close' has dtype String, expected Float64",
        "missing column 'volume' (expected dtype Float64)",
    ]


def test_schema_problems_accepts_widening_nulls_and_extra_columns():
    raw = prices(bar(S0)).with_columns(
        pl.col("volume").cast(pl.Int64), pl.lit(None).alias("open"), pl.lit(1).alias("extra")
    )
    assert raw.schema["open"] == pl.Null()
    assert schema_problems(raw) == []
    assert schema_problems(pl.DataFrame()) == [
        f"missing column {c!r} (expected dtype {t})" for c, t in prices().schema.items()
    ]


def test_jump_reference_is_median_of_previous_dates_so_a_spike_does_not_poison():
    dates = [D(2024, 1, d) for d in range(1, 9)]
    raw = prices(*closes("AAA", [100, 100, 100, 100, 100, 1000, 100, 100], dates))
    ref = jump_reference(raw.with_row_index(ROW), reference_sessions=5)
    assert ref[JUMP_REFERENCE].to_list() == [None, 100, 100, 100, 100, 100, 100, 100]


def test_jump_reference_skips_unusable_values_and_takes_the_median_of_a_date():
    raw = prices(
        bar(S0, close=10.0), bar(S0, close=20.0), bar(S0, close=60.0),  # three rows on S0: median 20
        bar(S1, close=float("nan")), bar(S2, close=-5.0), bar(S3, adj_close=float("inf")),  # unusable
        bar(S4, close=40.0), bar(S4, "BBB", close=7.0),
    )
    ref = jump_reference(raw.with_row_index(ROW), reference_sessions=2).sort("symbol", "date")
    assert ref.rows() == [("AAA", S0, None), ("AAA", S4, 20.0), ("BBB", S4, None)]


def test_helper_columns_golden_values():
    raw = prices(
        bar(S0, close=10.5),
        bar(S1, open=10.0, high=9.5, low=9.0, close=10.5),  # high below max(open, close) by 1 of 10.5
        bar(S1, "ZZZ"),
        bar(S2, open=10.0, high=11.0, low=10.2, close=10.5, adj_close=2.1),  # low above min(open, close)
    )
    out = helpers(raw, sessions=(S0, S1, S2))
    assert out[ROW].to_list() == [0, 1, 2, 3]
    np.testing.assert_allclose(out[HIGH_GAP].to_list(), [-0.5 / 11, 1 / 10.5, -0.5 / 11, -0.5 / 11])
    np.testing.assert_allclose(out[LOW_GAP].to_list(), [-1 / 11, -1 / 10.5, -1 / 11, 0.2 / 11])
    assert out[SYMBOL_KNOWN].to_list() == [True, True, False, True]
    assert out[LOG_JUMP][0] is None and out[LOG_JUMP][1] == 0.0 and out[LOG_JUMP][2] is None
    assert out[LOG_JUMP][3] == pytest.approx(math.log(2.1 / 10.5))


def test_log_jump_is_null_unless_adj_close_is_finite_and_positive():
    raw = prices(bar(S0), bar(S1, adj_close=0.0), bar(S2, adj_close=-3.0), bar(S3, adj_close=float("inf")))
    assert helpers(raw, sessions=(S0, S1, S2, S3))[LOG_JUMP].to_list() == [None, None, None, None]


def test_ohlc_gaps_are_null_unless_the_four_prices_are_positive():
    raw = prices(bar(S0, open=0.0), bar(S1, high=float("nan")), bar(S2, low=-1.0))
    out = helpers(raw, sessions=(S0, S1, S2))
    assert out[HIGH_GAP].to_list() == [None, None, None]
    assert out[LOW_GAP].to_list() == [None, None, None]


def test_copy_index_and_key_versions():
    raw = prices(
        bar(S0),                           # 0 first copy
        bar(S0, "BBB"),                     # 1 alone
        bar(S0),                           # 2 exact copy of 0
        bar(S0, source="other"),           # 3 copy of 0 with another source: still a copy
        bar(S1, close=10.0),               # 4 conflicting versions of (S1, AAA)
        bar(S1, close=10.2),               # 5
        bar(S1, close=10.2),               # 6 copy of 5, and in conflict
        bar(None), bar(None),              # 7, 8 no date: copies, no key
    )
    out = helpers(raw, sessions=(S0, S1), universe=("AAA", "BBB"))
    assert out[COPY_INDEX].to_list() == [0, 0, 1, 2, 0, 0, 1, 0, 1]
    assert out[KEY_VERSIONS].to_list() == [1, 1, 1, 1, 2, 2, 2, None, None]


def test_lookback_rows_are_reference_only_and_undated_rows_are_target():
    raw = prices(bar(S0, close=100.0), bar(S1, close=100.0), bar(S2, close=10.0), bar(None), bar(S4))
    out = helpers(raw, sessions=(S2, S3))
    assert out[ROW].to_list() == [2, 3, 4]
    assert out[JUMP_REFERENCE].to_list() == [100.0, None, 100.0]  # S4: median(100, 100, 10)
    assert out[IN_SESSIONS].to_list() == [True, False, False]  # an undated row is in no session


def test_evaluation_frame_turns_nan_and_infinity_into_null():
    raw = prices(bar(S0, close=float("nan"), volume=float("-inf"), adj_close=10.0))
    ev = evaluation_frame(helpers(raw))
    assert ev["close"].to_list() == [None]
    assert ev["volume"].to_list() == [None]
    assert ev[HIGH_GAP].to_list() == [None]
    assert ev.columns[:9] == list(prices().columns)
