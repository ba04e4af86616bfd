"""Off-session and undated rows are stored under a session and rejected there, never dropped."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import polars as pl
import pytest

from market_assets.quant.validation import validate_prices
from market_assets.quant.validation.received import (
    RECEIVED_DATE,
    off_session,
    received_date_problems,
    store_under_sessions,
)
from market_assets.quant.validation.sessions import session_outcome
from market_assets_tests.quant.validation.frames import S0, S1, S2, S3, S4, D, bar, prices
from market_assets_tests.quant.validation.test_invariant import LOOKBACK, clean_market, inject

SATURDAY, SUNDAY, MLK_DAY = D(2024, 1, 6), D(2024, 1, 7), D(2024, 1, 15)
UNIVERSE = ("AAA", "BBB")


def test_the_storage_rule_puts_every_row_under_a_session_and_keeps_its_date():
    raw = prices(bar(S2), bar(SATURDAY), bar(SUNDAY), bar(None), bar(D(2023, 12, 29)), bar(D(2024, 1, 9)),
                 bar(S4))
    stored = store_under_sessions(raw, [S4, S1, S2, S3])  # any order
    assert stored.columns[:2] == ["date", RECEIVED_DATE]
    assert stored["date"].to_list() == [S2, S3, S3, S1, S1, S4, S4]
    assert stored[RECEIVED_DATE].to_list() == raw["date"].to_list()
    assert stored.drop("date", RECEIVED_DATE).equals(raw.drop("date"))  # nothing else changes
    assert off_session(stored).to_list() == [False, True, True, True, True, True, False]


def test_a_holiday_goes_to_the_session_before_it():
    friday, tuesday = D(2024, 1, 12), D(2024, 1, 16)
    stored = store_under_sessions(prices(bar(MLK_DAY)), [friday, tuesday])
    assert stored["date"].to_list() == [friday]


def test_storing_twice_or_without_sessions_is_refused():
    stored = store_under_sessions(prices(bar(S1)), [S1])
    with pytest.raises(ValueError, match="already have a 'received_date' column"):
        store_under_sessions(stored, [S1])
    with pytest.raises(ValueError, match="sessions is empty"):
        store_under_sessions(prices(bar(S1)), [])


def test_off_session_rows_are_rejected_under_the_session_storing_them():
    raw = prices(*(bar(d, s) for d in (S1, S2, S3) for s in UNIVERSE),
                 bar(SATURDAY, "AAA", close=10.6), bar(None, "BBB"))
    stored = store_under_sessions(raw, [S1, S2, S3])
    result = validate_prices(stored, sessions=[S1, S2, S3], universe=UNIVERSE)
    # the Friday's own AAA row is not a conflicting duplicate of the Saturday row filed beside it
    assert result.validated.height == 6 and result.validated["date"].to_list() == [S1, S1, S2, S2, S3, S3]
    assert result.rejections.columns[:2] == ["date", RECEIVED_DATE]
    assert result.rejections.select("date", RECEIVED_DATE, "symbol", "close", "reasons").rows() == [
        (S1, None, "BBB", 10.5, "null_value;date_not_in_sessions"),
        (S3, SATURDAY, "AAA", 10.6, "date_not_in_sessions"),
    ]
    assert result.validated.height + result.rejections.height == stored.height


def test_an_undated_row_stored_under_the_lookback_is_lookback():
    raw = prices(*(bar(d, s) for d in (S0, S1) for s in UNIVERSE), bar(None, "AAA"))
    stored = store_under_sessions(raw, [S0, S1])  # undated: under the first session, S0
    result = validate_prices(stored, sessions=[S1], universe=UNIVERSE)
    assert result.rejections.is_empty() and result.validated.height == 2


def test_the_completeness_check_counts_them_on_their_session():
    raw = prices(*(bar(d, s) for d in (S2, S3, S4) for s in UNIVERSE), bar(SATURDAY, "AAA"), bar(SUNDAY, "BBB"))
    stored = store_under_sessions(raw, [S2, S3, S4])
    result = validate_prices(stored, sessions=[S2, S3, S4], universe=UNIVERSE)
    outcome = result.outcome("sessions_are_complete")
    assert not outcome.passed and outcome.severity == "WARN"
    assert outcome.per_session == {S3.isoformat(): 2}
    assert "rows dated outside the sessions: 2" in outcome.details
    assert [(e["date"], e["session"]) for e in outcome.examples] == [(SATURDAY.isoformat(), S3.isoformat()),
                                                                     (SUNDAY.isoformat(), S3.isoformat())]
    friday = session_outcome(outcome, S3.isoformat(), raw_rows=4, universe_size=2, valid_rows=2, max_bad_share=0.2)
    assert not friday.passed and friday.failing_count == 2 and len(friday.examples) == 2
    monday = session_outcome(outcome, S4.isoformat(), raw_rows=2, universe_size=2, valid_rows=2, max_bad_share=0.2)
    assert monday.passed and monday.examples == []


def test_a_received_date_that_is_not_a_date_fails_the_schema_check():
    stored = store_under_sessions(prices(bar(S1)), [S1]).with_columns(pl.col(RECEIVED_DATE).cast(pl.String))
    assert received_date_problems(stored) == ["column 'received_date' has dtype String, expected Date"]
    result = validate_prices(stored, sessions=[S1], universe=["AAA"])
    assert result.blocking_failures[0].check_name == "prices_have_schema"
    assert RECEIVED_DATE in result.rejections.columns


@pytest.mark.parametrize("seed", [0, 1])
def test_nothing_is_lost_when_rows_are_stored_under_sessions(seed):
    rng = np.random.default_rng(seed)
    frame, sessions, symbols = clean_market(n_symbols=12, n_sessions=40, rng=rng)
    raw = inject(frame, sessions, symbols, rng)
    undated = raw.head(3).with_columns(pl.lit(None, dtype=pl.Date).alias("date"), source=pl.lit("defect:undated"))
    stored = store_under_sessions(pl.concat([raw, undated]), sessions)
    result = validate_prices(stored, sessions=sessions[LOOKBACK:], universe=symbols)
    # undated rows went to the first session, which is lookback here: the target is what is stored after it
    n_target = stored.filter(pl.col("date") >= sessions[LOOKBACK]).height
    assert result.validated.height + result.rejections.height == n_target
    weekend = result.rejections.filter(pl.col("source") == "defect:off_session")
    assert weekend.height == 2 and set(weekend["reasons"]) == {"date_not_in_sessions"}
    assert all(d.weekday() == 5 for d in weekend[RECEIVED_DATE]) and all(d.weekday() == 4 for d in weekend["date"])
    # the stored rejections are split by their session: every one lands in a target partition
    assert set(result.rejections["date"]) <= set(sessions[LOOKBACK:])
    by_source = Counter(result.rejections["source"])
    assert by_source["defect:off_session"] == 2
