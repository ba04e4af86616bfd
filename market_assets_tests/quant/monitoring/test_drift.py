"""Drift scores, Evidently's selection rule, decisions and the dataset summary (fast, no Evidently)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from scipy import stats

from market_assets.quant import drift_stattests as st
from market_assets.quant.drift import drift_by, feature_drift, most_drifted, profile_reference


@pytest.mark.parametrize(("n", "m"), [(1, 1), (5, 3), (6, 3), (4, 8), (1001, 7), (3000, 3000), (2500, 1000)])
def test_wasserstein_equals_scipy(n: int, m: int) -> None:
    rng = np.random.default_rng(n * 7 + m)
    u = np.sort(np.round(rng.normal(size=n), 1))  # ties inside and across samples
    v = np.sort(np.round(rng.normal(0.3, 1.5, size=m), 1))
    std = float(np.std(u))
    expected = stats.wasserstein_distance(u, v) / max(std, 0.001)
    assert st.wasserstein_norm(u, v, std) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_wasserstein_is_normed_by_at_least_0_001() -> None:
    u, v = np.array([1.0, 1.0, 1.0 + 1e-6]), np.array([1.0 + 2e-6])
    raw = stats.wasserstein_distance(u, v)
    assert st.wasserstein_norm(u, v, float(np.std(u))) == pytest.approx(raw / 0.001, rel=1e-9)


@pytest.mark.parametrize(
    ("n_reference", "n_unique", "categorical", "expected"),
    [(1000, 6, False, "ks"), (1001, 6, False, "wasserstein"), (1000, 5, False, "chisquare"),
     (1000, 3, False, "chisquare"), (1000, 2, False, "z"), (1000, 1, False, "z"),
     (1001, 5, False, "jensenshannon"), (1000, 9, True, "chisquare"), (1000, 2, True, "z"),
     (5000, 9, True, "jensenshannon")],
)
def test_selection_rule(n_reference: int, n_unique: int, categorical: bool, expected: str) -> None:
    assert st.select_stattest(n_reference, n_unique, categorical) == expected


def test_the_1000_row_rule_counts_rows_left_after_dropping_nulls_and_inf() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=1002)
    reference = pl.DataFrame({"a": values, "b": np.r_[values[:1000], np.nan, np.inf]})
    current = pl.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50)})
    table = feature_drift(reference, current).table
    assert table["stattest"].to_list() == ["wasserstein", "ks"]
    assert table["n_reference"].to_list() == [1002, 1000]
    assert table.row(1, named=True)["score"] == pytest.approx(
        stats.ks_2samp(values[:1000], current["b"].to_numpy()).pvalue, rel=1e-12)


def test_decisions_keep_evidentlys_comparisons() -> None:
    assert st.is_drifted("ks", 0.05, 0.05)              # K-S: p <= threshold
    assert not st.is_drifted("chisquare", 0.05, 0.05)   # chi-square and Z: p < threshold
    assert not st.is_drifted("z", 0.05, 0.05)
    assert st.is_drifted("wasserstein", 0.1, 0.1)       # distances: score >= threshold
    assert st.is_drifted("jensenshannon", 0.1, 0.1)
    with pytest.raises(ValueError, match="unknown stattest 'psi'"):
        st.is_drifted("psi", 0.1, 0.1)


def test_categorical_tests_match_their_formulas() -> None:
    ref_v, ref_c = np.array([0.0, 1.0, 2.0]), np.array([50, 30, 20])
    cur_v, cur_c = np.array([0.0, 2.0, 3.0]), np.array([10, 5, 5])   # 3.0 never seen in the reference
    assert st.chisquare_pvalue(ref_v, ref_c, cur_v, cur_c) == 0.0   # an expected count of 0
    js = st.jensenshannon_distance(ref_v, ref_c, cur_v, cur_c)
    p, q = np.array([0.5, 0.3, 0.2, 0.0]), np.array([0.5, 0.0, 0.25, 0.25])
    mix = (p + q) / 2
    kl = lambda a, b: float(np.sum(np.where(a > 0, a * np.log(np.where(a > 0, a, 1) / b), 0.0)))  # noqa: E731
    assert js == pytest.approx(np.sqrt((kl(p, mix) + kl(q, mix)) / 2), rel=1e-12)
    # Z-test on the share of rows that are not the smallest value
    pooled = (50 + 15) / 120
    z = (0.5 - 0.75) / np.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 20))
    assert st.z_pvalue(np.array([0.0, 1.0]), np.array([50, 50]), np.array([0.0, 1.0]), np.array([5, 15])) == (
        pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9))
    assert st.z_pvalue(np.array([4.0]), np.array([9]), np.array([4.0]), np.array([3])) == 1.0


def test_integer_columns_follow_evidentlys_type_inference() -> None:
    rng = np.random.default_rng(1)
    small = rng.integers(0, 4, size=300)
    reference = pl.DataFrame({"few": small, "with_null": small, "many": rng.integers(0, 40, size=300)})
    current = pl.DataFrame({"few": small[:80], "with_null": pl.Series(small[:80]).scatter(0, None),
                            "many": rng.integers(0, 40, size=80)})
    tests = dict(feature_drift(reference, current).table.select("column", "stattest").iter_rows())
    # 4 values and no null: categorical (chi-square); a null makes pandas see floats: numerical,
    # but still only 4 values, so chi-square again; 40 values: numerical K-S
    assert tests == {"few": "chisquare", "with_null": "chisquare", "many": "ks"}


def test_empty_columns_are_reported_not_tested_or_raise() -> None:
    reference = pl.DataFrame({"ok": np.arange(20.0), "gone": [None] * 20}, schema={"ok": pl.Float64, "gone": pl.Float64})
    current = pl.DataFrame({"ok": np.arange(5.0) + 30, "gone": [1.0] * 5})
    result = feature_drift(reference, current)
    gone = result.table.row(1, named=True)
    assert gone["stattest"] is None and gone["drifted"] is None and gone["n_reference"] == 0
    assert result.summary.untested == ("gone",)
    assert (result.summary.n_columns, result.summary.n_drifted, result.summary.dataset_drift) == (1, 1, True)
    with pytest.raises(ValueError, match="column 'gone' has no finite value in the reference"):
        feature_drift(reference, current, empty="raise")


def test_dataset_drift_at_exactly_the_drift_share() -> None:
    rng = np.random.default_rng(2)
    reference = pl.DataFrame({f"c{i}": rng.normal(size=2000) for i in range(4)})
    current = pl.DataFrame({"c0": rng.normal(3, size=200), "c1": rng.normal(3, size=200),
                            "c2": rng.normal(size=200), "c3": rng.normal(size=200)})
    summary = feature_drift(reference, current).summary
    assert (summary.n_drifted, summary.drifted_share, summary.dataset_drift) == (2, 0.5, True)
    assert not feature_drift(reference, current, drift_share=0.51).summary.dataset_drift


def test_a_profile_gives_the_same_result_as_the_frame() -> None:
    rng = np.random.default_rng(3)
    reference = pl.DataFrame({"date": [dt.date(2024, 1, 2)] * 1500, "symbol": ["A"] * 1500,
                              "x": rng.normal(size=1500), "y": pl.Series(np.where(rng.random(1500) < 0.5, np.nan, 1.0)).fill_nan(None)})
    current = pl.DataFrame({"date": [dt.date(2024, 2, 1)] * 100, "symbol": ["A"] * 100,
                            "x": rng.normal(0.2, size=100), "y": [1.0, 2.0] * 50})
    direct = feature_drift(reference, current)
    assert direct.table["column"].to_list() == ["x", "y"]   # keys left out
    profile = profile_reference(reference)
    assert feature_drift(profile, current).table.equals(direct.table)
    assert feature_drift(profile, current, ["y"]).table.equals(direct.table.slice(1))


def test_wrong_columns_are_named() -> None:
    frame = pl.DataFrame({"x": [1.0, 2.0], "name": ["a", "b"]})
    with pytest.raises(ValueError, match=r"numeric or boolean columns, got \['name \(String\)'\]"):
        feature_drift(frame, frame, ["x", "name"])
    with pytest.raises(ValueError, match=r"current has no column\(s\) \['z'\]"):
        feature_drift(frame, frame, ["z"])
    with pytest.raises(ValueError, match="drift_share=0"):
        feature_drift(frame, frame, drift_share=0)
    with pytest.raises(ValueError, match="empty='ignore'; expected 'skip' or 'raise'"):
        feature_drift(frame, frame, empty="ignore")


def test_prediction_drift_per_horizon() -> None:
    rng = np.random.default_rng(4)
    reference = pl.DataFrame({"horizon": [1] * 2000 + [5] * 2000,
                              "prediction": np.r_[rng.normal(0, 0.01, 2000), rng.normal(0, 0.02, 2000)]})
    current = pl.DataFrame({"horizon": [5] * 1500 + [1] * 300,
                            "prediction": np.r_[rng.normal(0, 0.02, 1500), rng.normal(0.01, 0.01, 300)]})
    table = drift_by(reference, current, value="prediction")
    assert table["horizon"].to_list() == [1, 5] and table.schema["horizon"] == pl.Int64
    assert table["drifted"].to_list() == [True, False]
    single = feature_drift(reference.filter(pl.col("horizon") == 1).select("prediction"),
                           current.filter(pl.col("horizon") == 1).select("prediction")).table
    assert table.row(0, named=True)["score"] == single["score"][0]
    with pytest.raises(ValueError, match="horizon=20 is in current but not in reference"):
        drift_by(reference, current.with_columns(pl.lit(20).alias("horizon")), value="prediction")


def test_most_drifted_ranks_drifted_first_then_by_severity() -> None:
    table = pl.DataFrame({
        "column": ["a", "b", "c", "d", "e"], "drifted": [False, True, True, None, False],
        "severity": [0.9, 1.5, 40.0, None, 0.2],
    })
    assert most_drifted(table, 3) == ["c", "b", "a"]
    assert most_drifted(table, 2, exclude=["c"]) == ["b", "a"]
    assert st.severity("ks", 0.0, 0.05) == float("inf")
    assert st.severity("ks", 0.05, 0.05) == pytest.approx(1.0)
