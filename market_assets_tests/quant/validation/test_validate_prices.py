"""validate_prices: rules on tiny frames, severity policy, outcome contents, arguments."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import polars as pl
import pytest

from market_assets.quant.validation import RuleOutcome, ValidationConfig, validate_prices
from market_assets.schema import PRICE_SCHEMA, REJECTION_SCHEMA, InvalidSymbolError
from market_assets_tests.quant.validation.frames import (
    CHECK_NAMES,
    S0,
    S1,
    S2,
    S3,
    S4,
    D,
    bar,
    closes,
    failed,
    prices,
    reasons,
    run,
)

SESSIONS = (S0, S1, S2, S3, S4)


def test_clean_frame_passes_every_check_with_complete_outcomes():
    raw = prices(bar(S1, "BBB"), bar(S0, "BBB"), bar(S1), bar(S0))
    result = run(raw, sessions=(S0, S1), universe=("AAA", "BBB"))
    assert result.validated.schema == pl.Schema(PRICE_SCHEMA)
    assert result.validated.select("date", "symbol").rows() == [(S0, "AAA"), (S0, "BBB"), (S1, "AAA"), (S1, "BBB")]
    assert result.rejections.schema == pl.Schema(REJECTION_SCHEMA) and result.rejections.height == 0
    assert tuple(o.check_name for o in result.outcomes) == CHECK_NAMES
    assert all(o.passed and o.evaluated and o.failing_count == 0 for o in result.outcomes)
    assert [o.severity for o in result.outcomes] == ["ERROR"] + ["WARN"] * 8
    assert result.blocking_failures == ()
    assert result.outcome("keys_are_unique").reason_codes == ("duplicate_row", "duplicate_key_conflict")
    assert result.outcome("prices_have_schema").reason_code is None


def test_reasons_are_joined_in_rule_order():
    raw = prices(bar(S0), bar(S0, "BBB", open=-1.0, close=float("nan"), volume=-5.0))
    result = run(raw, universe=("AAA", "BBB"))
    assert reasons(result) == ["null_value;nonpositive_price;negative_volume"]
    assert result.rejections.row(0, named=True)["open"] == -1.0  # the raw row as received


@pytest.mark.parametrize(("high", "rejected"), [(10.5 * (1 - 1e-12), False), (10.5 * (1 - 1e-7), True)])
def test_ohlc_tolerance_is_relative_1e_9(high, rejected):
    raw = prices(bar(S0, open=10.5, high=high, low=9.0, close=10.5))
    assert reasons(run(raw)) == (["ohlc_inconsistent"] if rejected else [])


@pytest.mark.parametrize(
    ("ratio", "rejected"),
    [(0.48, False), (0.37, False), (0.36, True), (0.1, True), (2.70, False), (2.72, True)],
    ids=["aapl-2000-crash", "-63%", "-64%", "-90%", "+170%", "+172%"],
)
def test_jump_limit_of_one_log_unit(ratio, rejected):
    raw = prices(*closes("AAA", [100, 100, 100 * ratio], [S0, S1, S2]))
    result = run(raw, sessions=(S1, S2))
    assert reasons(result) == (["unexplained_jump"] if rejected else [])


def test_spike_is_rejected_and_the_next_session_accepted():
    raw = prices(*closes("AAA", [100, 100, 100, 1000, 100], SESSIONS))
    result = run(raw, sessions=SESSIONS)
    assert result.rejections.select("date", "reasons").rows() == [(S3, "unexplained_jump")]
    outcome = result.outcome("no_unexplained_jumps")
    assert outcome.examples[0]["jump_reference"] == 100.0
    assert outcome.examples[0]["log_jump"] == pytest.approx(2.302585)
    assert outcome.details == ("1 of 5 target rows rejected (1 unexplained_jump); "
                               "largest |ln(adj_close / reference)| 2.303, limit 1.0")


def test_persistent_unexplained_drop_is_rejected_until_it_fills_half_the_window():
    dates = [D(2024, 2, d) for d in range(1, 11)]
    raw = prices(*closes("AAA", [100] * 5 + [10] * 5, dates))
    result = run(raw, sessions=tuple(dates))
    assert result.rejections["date"].to_list() == dates[5:8]  # median of 5 flips after 3 low days


def test_lookback_rows_are_reference_only():
    raw = prices(
        *closes("AAA", [100, 100, 10], [S0, S1, S2]),
        bar(S1, "AAA", open=-1.0),  # bad lookback row: never rejected or output
    )
    result = run(raw, sessions=(S2,))
    assert result.validated.height == 0
    assert result.rejections.select("date", "reasons").rows() == [(S2, "unexplained_jump")]


def test_duplicates_keep_the_first_exact_copy_and_reject_every_conflicting_version():
    raw = prices(bar(S0), bar(S0, source="mirror"), bar(S0, "BBB", close=10.4), bar(S0, "BBB", close=10.6))
    result = run(raw, universe=("AAA", "BBB"))
    assert result.validated.select("symbol", "source").rows() == [("AAA", "test")]
    assert result.rejections.select("symbol", "source", "reasons").rows() == [
        ("AAA", "mirror", "duplicate_row"),
        ("BBB", "test", "duplicate_key_conflict"),
        ("BBB", "test", "duplicate_key_conflict"),
    ]
    assert result.outcome("keys_are_unique").details == (
        "3 of 4 target rows rejected (1 duplicate_row, 2 duplicate_key_conflict)"
    )


def test_the_first_copy_in_raw_order_is_kept_whatever_its_source():
    raw = prices(bar(S0, source="mirror"), bar(S0), bar(S0, source="third"))
    result = run(raw)
    assert result.validated["source"].to_list() == ["mirror"]
    assert result.rejections.select("source", "reasons").rows() == [
        ("test", "duplicate_row"), ("third", "duplicate_row"),
    ]


def test_rows_off_session_are_rejected_under_sessions_are_complete():
    raw = prices(bar(S0), bar(D(2024, 1, 6)), bar(S1))  # a Saturday inside the window
    result = run(raw, sessions=(S0, S1))
    assert result.rejections.select("date", "reasons").rows() == [(D(2024, 1, 6), "date_not_in_sessions")]
    outcome = result.outcome("sessions_are_complete")
    assert (outcome.passed, outcome.severity, outcome.failing_count, outcome.observed) == (False, "WARN", 1, 0.0)
    assert outcome.examples[0]["status"] == "outside_sessions"


def test_row_rules_stay_warn_even_when_every_row_fails():
    raw = prices(*(bar(s, open=-1.0) for s in SESSIONS))
    result = run(raw, sessions=SESSIONS)
    assert result.outcome("prices_are_positive").severity == "WARN"
    assert result.outcome("prices_are_positive").observed == 1.0
    assert [o.check_name for o in result.blocking_failures] == ["sessions_are_complete"]


def grid(sessions, symbols) -> pl.DataFrame:
    return prices(*(bar(s, sym) for s in sessions for sym in symbols))


@pytest.mark.parametrize(
    ("bad_per_session", "severity"),
    [((0, 0, 0, 0), None), ((1, 0, 0, 0), "WARN"), ((1, 1, 1, 1), "WARN"), ((2, 0, 0, 0), "ERROR")],
    ids=lambda v: str(v),
)
def test_sessions_are_complete_is_error_when_one_session_is_above_the_bad_share(bad_per_session, severity):
    # 5 symbols: 1 bad cell of a session is 20% (still WARN), 2 are 40% (ERROR), even
    # though 2 bad cells are only 10% of the batch's 20 cells: a bad session is not
    # diluted by good ones.
    symbols = ("A0", "A1", "A2", "A3", "A4")
    raw = grid(SESSIONS[:4], symbols)
    bad = pl.int_range(pl.len()).over("date") < pl.col("date").replace_strict(
        dict(zip(SESSIONS[:4], bad_per_session)), return_dtype=pl.Int64
    )
    raw = raw.with_columns(close=pl.when(bad).then(float("nan")).otherwise(pl.col("close")))
    result = run(raw, sessions=SESSIONS[:4], universe=symbols)
    outcome = result.outcome("sessions_are_complete")
    assert failed(result).get("sessions_are_complete") == severity
    assert outcome.observed == sum(bad_per_session) / 20
    assert result.outcome("values_are_present").severity == "WARN"


def test_a_session_without_any_valid_row_is_error_even_below_the_bad_share():
    raw = grid(SESSIONS, ("A0", "A1")).filter(pl.col("date") != S2)  # 2 of 10 cells missing = 20%
    result = run(raw, sessions=SESSIONS, universe=("A0", "A1"))
    outcome = result.outcome("sessions_are_complete")
    assert (outcome.severity, outcome.observed) == ("ERROR", 0.2)
    assert outcome.details == (
        "2 of 10 (session, symbol) cells bad (20.0%): 2 missing, 0 rejected; rows dated outside the "
        "sessions: 0; sessions without a valid row: ['2024-01-04']; ERROR when a session has more than 20.0% bad cells"
    )
    assert outcome.per_session == {"2024-01-04": 2}
    assert outcome.examples == [{"date": "2024-01-04", "symbol": s, "status": "missing"} for s in ("A0", "A1")]


def test_wrong_schema_is_an_error_outcome_not_an_exception():
    raw = prices(bar(S0)).drop("volume")
    result = run(raw)
    schema = result.outcome("prices_have_schema")
    assert (schema.passed, schema.severity, schema.failing_count) == (False, "ERROR", 1)
    assert schema.details == "missing column 'volume' (expected dtype Float64)"
    assert result.blocking_failures == (schema,)
    assert result.validated.height == 0 and result.rejections.height == 0
    others = result.outcomes[1:]
    assert [o.evaluated for o in others] == [False] * 8
    assert {o.severity for o in others} == {"WARN"} and not any(o.passed for o in others)


def test_outcomes_are_frozen_and_json_friendly():
    raw = prices(bar(S0, close=float("nan")), bar(None, volume=float("inf")))
    outcome = run(raw).outcome("values_are_present")
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.passed = True  # type: ignore[misc]
    assert outcome.examples == [
        {"row": 0, "date": "2024-01-02", "symbol": "AAA", "open": 10.0, "high": 11.0, "low": 9.0,
         "close": "nan", "adj_close": "nan", "volume": 1000.0, "source": "test", "reasons": "null_value"},
        {"row": 1, "date": None, "symbol": "AAA", "open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5,
         "adj_close": 10.5, "volume": "inf", "source": "test", "reasons": "null_value;date_not_in_sessions"},
    ]
    assert outcome.per_session == {"2024-01-02": 1, "null": 1}
    json.dumps(dataclasses.asdict(outcome), allow_nan=False)


def test_examples_are_capped_by_config():
    raw = prices(*(bar(s, volume=-1.0) for s in SESSIONS))
    outcome = run(raw, sessions=SESSIONS, max_examples=2).outcome("volume_is_nonnegative")
    assert outcome.failing_count == 5
    assert [e["date"] for e in outcome.examples] == ["2024-01-02", "2024-01-03"]


def test_config_thresholds_change_the_decision():
    raw = prices(*closes("AAA", [100, 100, 60], [S0, S1, S2]))  # ln 0.6 = -0.51
    assert reasons(run(raw, sessions=(S1, S2))) == []
    assert reasons(run(raw, sessions=(S1, S2), max_abs_log_jump=0.5)) == ["unexplained_jump"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sessions": []}, ValueError, r"sessions is empty: expected at least one target session date"),
        ({"sessions": [dt.datetime(2024, 1, 2)]}, TypeError,
         r"sessions must hold datetime\.date values, got datetime\.datetime\(2024, 1, 2, 0, 0\) \(datetime\)"),
        ({"universe": []}, ValueError, r"universe is empty"),
        ({"universe": "AAA"}, TypeError, r"universe must be a sequence of symbols, got the string 'AAA'"),
        ({"universe": ["../etc"]}, InvalidSymbolError, r"invalid symbol '\.\./etc'"),
        ({"raw": prices(bar(S0)).to_pandas()}, TypeError,
         r"raw must be a polars DataFrame with the price schema, got DataFrame"),
    ],
)
def test_caller_mistakes_raise_clear_errors(kwargs, error, match):
    arguments = {"raw": prices(bar(S0)), "sessions": [S0], "universe": ["AAA"], **kwargs}
    with pytest.raises(error, match=match):
        validate_prices(**arguments)


def test_config_rejects_out_of_range_values():
    with pytest.raises(ValueError, match=r"ValidationConfig\.max_bad_share=1\.5: expected a number in \[0, 1\]"):
        ValidationConfig(max_bad_share=1.5)
    with pytest.raises(ValueError, match=r"ValidationConfig\.jump_reference_sessions=0: expected an integer >= 1"):
        ValidationConfig(jump_reference_sessions=0)


def test_outcome_lookup_names_known_checks():
    result = run(prices(bar(S0)))
    assert isinstance(result.outcome("ohlc_is_consistent"), RuleOutcome)
    with pytest.raises(KeyError, match=r"no check named 'ohlc'; checks are \['prices_have_schema'"):
        result.outcome("ohlc")
