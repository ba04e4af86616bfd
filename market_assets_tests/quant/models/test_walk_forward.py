"""walk_forward_predict / score_fold: each test row once, fresh model per fold."""

from __future__ import annotations

import numpy as np
import pytest

from market_assets.quant.cv import PurgedWalkForwardSplit
from market_assets.quant.models import make_model, score_fold, walk_forward_predict

CV = PurgedWalkForwardSplit(n_splits=3, horizon=1, embargo=1, min_train_sessions=20)


def test_each_test_row_is_predicted_once_in_fold_order(small_panel: dict) -> None:
    X, y, dates = small_panel["X"], small_panel["regression"], small_panel["dates"]
    oos = walk_forward_predict(lambda: make_model("ridge", "regression"), X, y, dates, CV)
    expected = np.concatenate([test for _, test in CV.split(dates)])
    np.testing.assert_array_equal(oos["row"].to_numpy(), expected)
    assert oos["fold"].unique().to_list() == [0, 1, 2]
    np.testing.assert_array_equal(oos["y_true"].to_numpy(), y[expected])
    assert score_fold(oos, "rank_ic") > 0.2  # mom_20 carries a signal of corr ~0.45


def test_classifier_folds_carry_probabilities(small_panel: dict) -> None:
    X, y, dates = small_panel["X"], small_panel["five_class"], small_panel["dates"]
    oos = walk_forward_predict(lambda: make_model("ridge", "five_class"), X, y, dates, CV)
    assert [f"proba_{k}" for k in range(5)] == [c for c in oos.columns if c.startswith("proba_")]
    assert 0 < score_fold(oos, "log_loss", classes=list(range(5))) < np.log(5) + 0.1


def test_misaligned_inputs_and_unknown_scoring(small_panel: dict) -> None:
    X, y, dates = small_panel["X"], small_panel["regression"], small_panel["dates"]
    with pytest.raises(ValueError, match="row-aligned, got 600, 599, 600 rows"):
        walk_forward_predict(lambda: make_model("ridge", "regression"), X, y[:-1], dates, CV)
    oos = walk_forward_predict(lambda: make_model("ridge", "regression"), X, y, dates, CV)
    with pytest.raises(ValueError, match="unknown scoring 'sharpe'"):
        score_fold(oos, "sharpe")


def test_each_fold_model_gets_its_session_dates_and_the_splitter_horizon(small_panel: dict) -> None:
    from market_assets.quant.models import walk_forward_folds

    X, y, dates = small_panel["X"], small_panel["regression"], small_panel["dates"]
    seen = []

    def factory():
        model = make_model("ridge", "regression")
        seen.append(model.named_steps["model"])
        return model

    list(walk_forward_folds(factory, X, y, dates, CV))
    assert len(seen) == 3
    assert all(r.cv_used_dates_ and (r.horizon, r.embargo) == (CV.horizon, CV.embargo) for r in seen)
