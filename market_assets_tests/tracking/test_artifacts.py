"""Run contents decided before mlflow sees them: metrics, importance chart, model file settings."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from market_assets.tracking._artifacts import (
    finite_metrics,
    importance_figure,
    pip_requirements,
    ranked_importance,
    skops_trusted_types,
)


def test_nan_metrics_are_split_off_and_named() -> None:
    kept, skipped = finite_metrics({"ic": 0.02, "icir": float("nan"), "n": 12, "hit": np.float32(0.5)})
    assert kept == {"ic": 0.02, "n": 12.0, "hit": 0.5}
    assert skipped == ["icir"]


def test_ranking_is_by_absolute_value_and_drops_non_finite() -> None:
    ranked = ranked_importance({"a": 0.1, "b": -0.5, "c": float("nan"), "d": 0.5, "e": float("inf")})
    assert ranked == [("b", -0.5), ("d", 0.5), ("a", 0.1)]


def test_chart_shows_the_top_30_largest_first() -> None:
    importance = {f"f{i:02d}": float(i) for i in range(50)}
    axes = importance_figure(importance).axes[0]
    labels = [tick.get_text() for tick in axes.get_yticklabels()]
    assert len(axes.patches) == 30
    assert labels[-1] == "f49" and labels[0] == "f20"  # barh draws bottom-up: largest on top
    assert axes.get_title() == "Feature importance (top 30 of 50)"


def test_zoo_types_are_trusted_and_pinned(features) -> None:
    from market_assets.quant.models.pipeline import make_model

    X, y = features
    model = make_model("momentum", "regression", {"feature": "mom_20"}).fit(X, y)
    trusted = skops_trusted_types(model)
    assert "market_assets.quant.models.baselines.MomentumRegressor" in trusted
    # market_assets itself is the project, not a pinned distribution
    assert [r.split("==")[0] for r in pip_requirements(trusted)] == ["numpy", "scikit-learn", "skops"]


def test_types_from_other_packages_are_refused(features) -> None:
    model = Ridge().fit(*features)
    model.trained_on_ = dt.date(2024, 1, 1)  # a datetime.date is outside the trusted packages
    with pytest.raises(ValueError, match=r"holds types \['datetime.date'\] from packages outside"):
        skops_trusted_types(model)
