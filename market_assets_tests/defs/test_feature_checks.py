"""The feature checks judge each session on its own rows and name the sessions they judged."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl

from market_assets.defs.checks.feature_checks import feature_check_results

D1, D2 = dt.date(2024, 3, 25), dt.date(2024, 3, 26)
K1, K2 = D1.isoformat(), D2.isoformat()


def _table() -> pl.DataFrame:
    # D1: clean. D2: an inf in "a", "b" null on one of its two rows past warm-up, "c" constant.
    return pl.DataFrame({
        "date": [D1, D1, D2, D2], "symbol": ["X", "Y", "X", "Y"],
        "a": [1.0, 2.0, float("inf"), 3.0], "b": [0.5, 0.7, None, 0.1], "c": [1.0, 2.0, 4.0, 4.0],
        "history": [30, 30, 31, 31],
    })


def _results(sessions, limit=31):
    table = _table().filter(pl.col("date").is_in([dt.date.fromisoformat(s) for s in sessions]))
    events = list(feature_check_results(table, sessions=sessions, warmups={"a": 0, "b": 5, "c": 0},
                                        per_date_features=[], max_null_share=0.05, max_abs_corr=0.95,
                                        per_session_limit=limit))
    evaluations = [e for e in events if isinstance(e, dg.AssetCheckEvaluation)]
    results = {r.check_name: r for r in events if isinstance(r, dg.AssetCheckResult)}
    return evaluations, results


def test_a_range_run_gives_each_session_its_verdict_and_a_breakdown() -> None:
    evaluations, results = _results([K2, K1])
    verdicts = {(e.check_name, e.partition): e.passed for e in evaluations}
    assert verdicts == {
        ("features_are_finite", K1): True, ("features_are_finite", K2): False,
        ("features_are_populated_after_warmup", K1): True, ("features_are_populated_after_warmup", K2): False,
        ("features_are_not_constant", K1): True, ("features_are_not_constant", K2): False,
    }
    blocking = {e.check_name: e.blocking for e in evaluations}
    assert blocking["features_are_finite"] and not blocking["features_are_not_constant"]
    populated = results["features_are_populated_after_warmup"]
    assert not populated.passed and populated.severity == dg.AssetCheckSeverity.ERROR
    assert populated.metadata["sessions_judged"].value == f"{K1} … {K2}"
    assert populated.metadata["failing_by_session"].value == {K2: 1}
    assert f"| {K2} | 1 |" in populated.metadata["failing_by_session_table"].value
    assert populated.metadata["max_null_share"].value == 0.5
    d2 = next(e for e in evaluations if e.partition == K2 and e.check_name == "features_are_populated_after_warmup")
    assert d2.metadata["max_null_share"].value == 0.5 and d2.metadata["features_over_limit"].value == 1
    # D2: "c" equal for both symbols, "b" has a single non-null value
    assert results["features_are_not_constant"].metadata["names"].value == "b, c"
    assert set(results) == {"features_are_finite", "features_are_populated_after_warmup",
                            "features_are_not_constant", "features_are_not_redundant"}


def test_long_range_runs_keep_to_the_breakdown_and_single_sessions_to_their_own_numbers() -> None:
    evaluations, results = _results([K1, K2], limit=1)
    assert not evaluations and results["features_are_finite"].metadata["failing_by_session"].value == {K2: 1}
    evaluations, results = _results([K1])
    # a one-session run records each row check on its session too (Dagster puts the result on none)
    assert {(e.check_name, e.partition) for e in evaluations} == {
        (name, K1) for name in ("features_are_finite", "features_are_populated_after_warmup", "features_are_not_constant")
    }
    finite = results["features_are_finite"]
    assert finite.passed and finite.metadata["sessions_judged"].value == K1
    assert finite.metadata["nonfinite_values"].value == 0
