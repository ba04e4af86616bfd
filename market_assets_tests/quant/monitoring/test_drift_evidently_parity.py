"""Our drift scores equal Evidently's own ``Report([DataDriftPreset()])`` values (both regimes)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from market_assets.quant.drift import feature_drift
from market_assets.quant.drift_report import evidently_scores


def _frames(n_ref: int, n_cur: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """~20 columns covering every branch of Evidently's test selection."""
    rng = np.random.default_rng(seed)

    specs = {
        "same": lambda r, n, s: r.normal(size=n),
        "shift_small": lambda r, n, s: r.normal(0.05 * s, size=n),
        "shift_large": lambda r, n, s: r.normal(0.5 * s, size=n),
        "scale": lambda r, n, s: r.normal(size=n) * (1 + 0.5 * s),
        "fat_tails": lambda r, n, s: r.standard_t(3, size=n),
        "returns": lambda r, n, s: r.normal(0, 0.02 * (1 + s), size=n),
        "tiny_std": lambda r, n, s: 5.0 + r.normal(0, 1e-5, size=n) + 1e-5 * s,   # std < 0.001 floor
        "ties": lambda r, n, s: np.round(r.normal(size=n), 1),
        # 60% nulls: 1500 reference rows leave ~600, so this column is K-S in the large regime too
        "mostly_null": lambda r, n, s: np.where(r.random(n) < 0.6, np.nan, r.normal(0.2 * s, size=n)),
        "some_null": lambda r, n, s: np.where(r.random(n) < 0.1, np.nan, r.normal(0.1 * s, size=n)),
        "with_inf": lambda r, n, s: np.where(r.random(n) < 0.02, np.inf, r.normal(size=n)),
        "near_constant": lambda r, n, s: np.where(r.random(n) < 0.01 + 0.02 * s, 1.0, 0.0),
        "constant": lambda r, n, s: np.zeros(n),
        "three_values": lambda r, n, s: r.choice([-1.0, 0.0, 1.0], size=n, p=[0.3, 0.4, 0.3]),
        "five_values": lambda r, n, s: r.integers(0, 5, size=n).astype(float) + 0.1 * s * (r.random(n) < 0.3),
        "weekday": lambda r, n, s: r.integers(0, 5, size=n).astype(float),
        "int_category": lambda r, n, s: r.integers(0, 4, size=n),
        "int_numeric": lambda r, n, s: r.integers(0, 50 + int(10 * s), size=n),
        "flag": lambda r, n, s: r.random(n) < 0.3 + 0.1 * s,
        "uniform": lambda r, n, s: r.uniform(0, 1 + 0.1 * s, size=n),
    }
    ref, cur = {}, {}
    for name, make in specs.items():
        ref[name], cur[name] = make(rng, n_ref, 0.0), make(rng, n_cur, 1.0)
    return pl.DataFrame(ref), pl.DataFrame(cur)


@pytest.mark.slow
@pytest.mark.parametrize(("n_ref", "n_cur"), [(600, 200), (1500, 300)], ids=["ks-regime", "wasserstein-regime"])
def test_scores_equal_evidently(n_ref: int, n_cur: int) -> None:
    reference, current = _frames(n_ref, n_cur, seed=n_ref)
    ours = feature_drift(reference, current)
    theirs, count = evidently_scores(reference, current)

    joined = ours.table.join(theirs, on="column", how="full", suffix="_evidently", coalesce=True)
    assert joined.height == reference.width
    assert joined.filter(pl.col("stattest") != pl.col("stattest_evidently")).is_empty(), joined
    np.testing.assert_allclose(joined["score"], joined["score_evidently"], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(joined["threshold"], joined["threshold_evidently"])
    # Evidently's DriftedColumnsCount takes a legacy path that keeps ±inf, scores such a column
    # NaN and counts it as not drifted, while its own ValueDrift drops ±inf first (and so do we).
    with_inf = ours.table.filter(pl.col("column") == "with_inf").row(0, named=True)
    assert ours.summary.n_drifted - int(with_inf["drifted"]) == count["count"]
    assert (ours.summary.n_drifted - int(with_inf["drifted"])) / ours.summary.n_columns == pytest.approx(
        count["share"], abs=1e-12)
    # the frames really exercise every branch of the selection rule
    expected_tests = {"ks", "chisquare", "z"} if n_ref <= 1000 else {"wasserstein", "jensenshannon", "ks"}
    assert set(ours.table["stattest"]) == expected_tests
    assert 0 < ours.summary.n_drifted < ours.summary.n_columns
