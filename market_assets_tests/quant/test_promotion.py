"""decide_promotion: golden cases for the champion / challenger rule."""

from __future__ import annotations

import math

import pytest

from market_assets.quant.promotion import PromotionDecision, decide_promotion

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("challenger", "champion", "margin", "higher_is_better", "promote"),
    [
        (0.02, None, 0.01, True, True),       # no champion: the first model becomes champion
        (-5.0, None, 0.01, True, True),       # ... whatever its score
        (0.75, 0.5, 0.125, True, True),       # improvement 0.25 > 0.125
        (0.75, 0.5, 0.25, True, False),       # margin edge: improvement == margin does not promote
        (0.5, 0.5, 0.0, True, False),         # a tie never promotes, even with margin 0
        (0.4, 0.5, 0.0, True, False),         # worse
        (0.25, 0.5, 0.125, False, True),      # lower is better: loss falls by 0.25 > 0.125
        (0.375, 0.5, 0.125, False, False),    # lower is better, margin edge
        (0.75, 0.5, 0.125, False, False),     # lower is better and the loss grew
    ],
)
def test_golden_cases(
    challenger: float, champion: float | None, margin: float, higher_is_better: bool, promote: bool
) -> None:
    decision = decide_promotion(challenger, champion, margin=margin, higher_is_better=higher_is_better)
    assert decision == PromotionDecision(promote, decision.reason, challenger, champion, margin)


def test_reason_states_scores_and_margin() -> None:
    assert decide_promotion(0.75, 0.5, margin=0.25).reason == (
        "challenger 0.75 vs champion 0.5 (higher is better): improvement 0.25 does not beat margin 0.25"
    )
    assert decide_promotion(0.25, 0.5, margin=0.125, higher_is_better=False).reason == (
        "challenger 0.25 vs champion 0.5 (lower is better): improvement 0.25 beats margin 0.125"
    )
    assert decide_promotion(0.02, None, margin=0.01).reason == (
        "no champion yet; challenger score 0.02 becomes champion"
    )


@pytest.mark.parametrize("challenger", [NAN, INF, -INF])
@pytest.mark.parametrize("champion", [None, 0.01])
def test_non_finite_challenger_never_promotes(challenger: float, champion: float | None) -> None:
    decision = decide_promotion(challenger, champion, margin=0.0)
    assert not decision.promote
    assert decision.reason == f"challenger score is {challenger}; a non-finite score never promotes"


def test_nan_champion_blocks_automatic_promotion() -> None:
    decision = decide_promotion(0.9, NAN, margin=0.0)
    assert not decision.promote
    assert math.isnan(decision.champion_score)
    assert decision.reason.startswith("champion score is nan; cannot compare")


@pytest.mark.parametrize("margin", [-0.01, NAN, INF])
def test_margin_must_be_finite_and_non_negative(margin: float) -> None:
    with pytest.raises(ValueError, match=r"margin=.*: expected a finite number >= 0"):
        decide_promotion(0.5, 0.4, margin=margin)
