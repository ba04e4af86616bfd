"""Interval coverage measured on sessions the conformal offsets were not cut from."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from market_assets.quant.metrics_intervals import interval_coverage, realized_interval_coverage
from market_assets.quant.training import INTERVAL_QUANTILES, TrainingSpec, fit_and_validate, split_periods

SESSIONS = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(260)]
SYMBOLS = [f"S{i:02d}" for i in range(30)]
D1, D2 = dt.date(2024, 1, 1), dt.date(2024, 1, 2)


def test_realized_coverage_golden() -> None:
    predictions = pl.DataFrame({
        "date": [D1, D1, D1, D2, D1, D1],
        "symbol": ["A", "B", "C", "A", "A", "B"],
        "horizon": [1, 1, 1, 1, 5, 5],
        "prediction": [0.0] * 6,
        "interval_low": [-0.01, -0.01, -0.01, -0.01, -0.02, -0.02],
        "interval_high": [0.01, 0.01, 0.01, 0.01, 0.02, 0.02],
    })
    labels = pl.DataFrame({
        "date": [D1, D1, D1, D2],
        "symbol": ["A", "B", "C", "A"],
        "fwd_ret_1": [0.005, -0.02, 0.01, None],  # inside, below, on the bound (inside); D2 not known yet
        "fwd_ret_5": [0.03, 0.0, None, None],  # above, inside
    })
    out = realized_interval_coverage(predictions, labels)
    assert out.to_dicts() == [
        {"horizon": 1, "n": 3, "coverage": pytest.approx(2 / 3), "below": pytest.approx(1 / 3), "above": 0.0},
        {"horizon": 5, "n": 2, "coverage": 0.5, "below": 0.0, "above": 0.5},
    ]
    daily = realized_interval_coverage(predictions.filter(pl.col("horizon") == 1), labels, by=("horizon", "date"))
    assert daily["date"].to_list() == [D1]  # D2 has no realised label yet
    assert interval_coverage([0.005, -0.02, 0.01, np.nan], [-0.01] * 4, [0.01] * 4) == pytest.approx(2 / 3)


def test_missing_columns_are_named() -> None:
    predictions = pl.DataFrame({"date": [D1], "symbol": ["A"], "horizon": [1], "prediction": [1.0]})
    with pytest.raises(ValueError, match=r"predictions lack column\(s\) \['interval_low', 'interval_high'\]"):
        realized_interval_coverage(predictions, pl.DataFrame({"date": [D1], "symbol": ["A"]}))
    predictions = predictions.with_columns(interval_low=pl.lit(-1.0), interval_high=pl.lit(1.0))
    with pytest.raises(ValueError, match=r"labels lack column\(s\) \['fwd_ret_1'\] for the predicted horizons \[1\]"):
        realized_interval_coverage(predictions, pl.DataFrame({"date": [D1], "symbol": ["A"], "fwd_ret_5": [0.0]}))


def _stationary_panel(seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """i.i.d. sessions: fwd_ret_1 = 0.01 * (0.3 * signal + sqrt(0.91) * noise)."""
    rng = np.random.default_rng(seed)
    n = len(SESSIONS) * len(SYMBOLS)
    keys = {"date": pl.Series([d for d in SESSIONS for _ in SYMBOLS], dtype=pl.Date), "symbol": SYMBOLS * len(SESSIONS)}
    signal, noise = rng.standard_normal(n), rng.standard_normal((n, 2))
    features = pl.DataFrame({**keys, "signal": signal, "noise_a": noise[:, 0], "std_20": np.abs(noise[:, 1])})
    target = 0.01 * (0.3 * signal + np.sqrt(0.91) * rng.standard_normal(n))
    return features, pl.DataFrame({**keys, "fwd_ret_1": target})


def _later_predictions(fitted, features: pl.DataFrame, first: dt.date, offsets: tuple[float, float]) -> pl.DataFrame:
    """The predictions asset's frame for the sessions from ``first`` on, with the given offsets."""
    later = features.filter(pl.col("date") >= first)
    prediction = fitted.model.predict(later.select(fitted.feature_columns).to_pandas())
    return later.select("date", "symbol").with_columns(
        horizon=pl.lit(1), prediction=prediction,
        interval_low=prediction + offsets[0], interval_high=prediction + offsets[1],
    )


@pytest.mark.parametrize(("name", "params"), [
    ("ridge", {}),
    ("random_forest", {"n_estimators": 20, "min_samples_leaf": 1, "max_features": 1.0}),
])
def test_the_interval_covers_80_percent_of_later_sessions(name: str, params: dict) -> None:
    features, labels = _stationary_panel()
    spec = TrainingSpec(model_name=name, horizon=1, embargo=5, validation_sessions=60, params=params)
    train_end = SESSIONS[200]
    # fit before the validation window, offsets cut on it, coverage on the 60 sessions after train_end:
    # rows neither the fit nor the offsets saw.  1,800 rows: SE of the coverage ~ 0.01.
    fitted = fit_and_validate(*split_periods(features, labels, spec, train_end, SESSIONS), spec)
    assert fitted.validation.meta["label_end"].max() < train_end
    later = _later_predictions(fitted, features, train_end, fitted.interval)
    out = realized_interval_coverage(later, labels)
    assert out["n"].item() == 60 * len(SYMBOLS)
    assert out["coverage"].item() == pytest.approx(0.8, abs=0.04)
    if name == "random_forest":
        # The same measurement catches offsets cut in sample: the forest's training residuals
        # are far smaller than its errors on new sessions, so that "80 %" interval covers < 65 %.
        residuals = fitted.train.y - fitted.model.predict(fitted.train.X.to_pandas())
        in_sample = tuple(np.quantile(residuals, INTERVAL_QUANTILES))
        leaky = realized_interval_coverage(_later_predictions(fitted, features, train_end, in_sample), labels)
        assert leaky["coverage"].item() < 0.65
