"""The Great Expectations suite and its runner."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from market_assets.quant.validation import REASON_CODES, ValidationConfig, build_expectation_suite
from market_assets.quant.validation.expectations import evaluate_expectations
from market_assets.quant.validation.rules import (
    COPY_INDEX,
    HIGH_GAP,
    IN_SESSIONS,
    KEY_VERSIONS,
    LOG_JUMP,
    LOW_GAP,
    SYMBOL_KNOWN,
)
from market_assets.schema import PRICE_VALUE_COLUMNS


def random_evaluation_frame(n: int, seed: int) -> pl.DataFrame:
    """An evaluation frame with every kind of failure and nulls sprinkled in."""
    rng = np.random.default_rng(seed)

    def numbers(low: float, high: float) -> pl.Series:
        values = rng.uniform(low, high, n)
        return pl.Series(np.where(rng.random(n) < 0.05, np.nan, values)).fill_nan(None)

    def flags(p_false: float) -> pl.Series:
        values = pl.Series(rng.random(n) >= p_false)
        return pl.when(pl.lit(pl.Series(rng.random(n) < 0.05))).then(None).otherwise(values)

    frame = pl.DataFrame({
        "date": pl.date_range(pl.date(2000, 1, 1), pl.date(2000, 1, 1) + pl.duration(days=n - 1), eager=True),
        "symbol": pl.Series(np.where(rng.random(n) < 0.05, None, "AAA"), dtype=pl.String),
        **{c: numbers(-0.5, 10) for c in PRICE_VALUE_COLUMNS},
        "volume": numbers(-1, 10),
        "source": pl.Series(["test"] * n),
        COPY_INDEX: pl.Series(rng.choice([0, 0, 0, 1, 2], n)),
        KEY_VERSIONS: pl.Series(rng.choice([1, 1, 1, 2], n)).cast(pl.UInt32),
        HIGH_GAP: numbers(-3e-9, 3e-9), LOW_GAP: numbers(-3e-9, 3e-9), LOG_JUMP: numbers(-1.5, 1.5),
    })
    return frame.with_columns(pl.select(flags(0.1)).to_series().alias(SYMBOL_KNOWN),
                              pl.select(flags(0.1)).to_series().alias(IN_SESSIONS))


def expected_masks(frame: pl.DataFrame, config: ValidationConfig) -> dict[str, np.ndarray]:
    """The same decisions as the suite, computed directly with numpy."""
    def col(name: str) -> np.ndarray:
        return frame[name].cast(pl.Float64).fill_null(np.nan).to_numpy()

    def fails(name: str, bad) -> np.ndarray:
        values = col(name)
        return ~np.isnan(values) & bad(values)

    prices = np.logical_or.reduce([fails(c, lambda v: v <= 0) for c in PRICE_VALUE_COLUMNS])
    tol = config.ohlc_rel_tolerance
    return {
        "null_value": np.logical_or.reduce([frame[c].is_null().to_numpy() for c in frame.columns[:9]]),
        "duplicate_row": fails(COPY_INDEX, lambda v: v > 0),
        "duplicate_key_conflict": fails(KEY_VERSIONS, lambda v: v > 1),
        "unknown_symbol": fails(SYMBOL_KNOWN, lambda v: v == 0),
        "nonpositive_price": prices,
        "ohlc_inconsistent": fails(HIGH_GAP, lambda v: v > tol) | fails(LOW_GAP, lambda v: v > tol),
        "negative_volume": fails("volume", lambda v: v < 0),
        "unexplained_jump": fails(LOG_JUMP, lambda v: np.abs(v) > config.max_abs_log_jump),
        "date_not_in_sessions": fails(IN_SESSIONS, lambda v: v == 0),
    }


def test_gx_failures_match_an_independent_numpy_evaluation():
    config = ValidationConfig(max_abs_log_jump=0.8)
    frame = random_evaluation_frame(3000, seed=7)
    masks = evaluate_expectations(frame, config)
    expected = expected_masks(frame, config)
    assert list(masks) == list(REASON_CODES)
    for code in REASON_CODES:
        assert 50 < expected[code].sum() < 3000, code  # every rule has failures and passes
        np.testing.assert_array_equal(masks[code], expected[code], err_msg=code)


def test_suite_exports_as_json_with_reason_codes_and_thresholds():
    suite = build_expectation_suite(ValidationConfig(max_abs_log_jump=0.7))
    exported = json.loads(json.dumps(suite.to_json_dict()))
    assert exported["name"] == "validated_prices"
    expectations = exported["expectations"]
    assert len(expectations) == 22
    assert {e["meta"]["reason_code"] for e in expectations} == set(REASON_CODES)
    jump = [e for e in expectations if e["meta"]["check_name"] == "no_unexplained_jumps"]
    assert jump == [{
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": LOG_JUMP, "min_value": -0.7, "max_value": 0.7},
        "meta": {"check_name": "no_unexplained_jumps", "reason_code": "unexplained_jump"},
        "description": "no_unexplained_jumps: rows failing it are rejected as unexplained_jump",
        "severity": "critical",
    }]


def test_runner_prints_nothing(capfd):
    evaluate_expectations(random_evaluation_frame(200, seed=1), ValidationConfig())
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")  # GX's "Calculating Metrics" progress bars are off


def test_an_expectation_gx_cannot_evaluate_raises_naming_the_check():
    frame = random_evaluation_frame(20, seed=2).drop(LOG_JUMP)
    with pytest.raises(RuntimeError, match=r"GX could not evaluate expect_column_values_to_be_between "
                                           r".*'_log_jump'.* of check no_unexplained_jumps"):
        evaluate_expectations(frame, ValidationConfig())


def test_importing_the_package_does_not_import_great_expectations():
    code = ("import sys, market_assets.quant.validation as v; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('great_expectations', 'pandas', 'dagster')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
