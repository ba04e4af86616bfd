"""Champion / challenger promotion rule: pure, no tracking, no I/O.

Conventions
-----------
* Scores are one evaluation metric of the challenger and of the current
  champion, computed on the **same** evaluation data (comparing scores from
  different periods compares the periods, not the models).
* ``higher_is_better=True`` for metrics such as IC, accuracy or Sharpe;
  ``False`` for losses such as RMSE or log-loss.
* The **improvement** is ``challenger - champion`` when higher is better and
  ``champion - challenger`` when lower is better, so a positive improvement
  always means "the challenger is better".
* ``margin`` is **absolute**, in the metric's own units (an IC margin of
  0.005 means the challenger's IC must exceed the champion's by more than
  0.005).  The test is strict: an improvement exactly equal to the margin
  does not promote, and with ``margin=0`` a tie does not promote.
* With no champion (``champion_score=None``) any finite challenger is
  promoted: the first model becomes champion.  Pass ``None`` only when no
  champion exists; a champion that lacks the metric should be passed as NaN,
  which blocks automatic promotion rather than replacing it unseen.
* A score that is not finite (NaN or +/-inf) never promotes: it means the
  evaluation failed or was undefined, and is reported in ``reason``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PromotionDecision:
    """The outcome of :func:`decide_promotion`.

    Attributes
    ----------
    promote : bool
        True when the challenger should become champion.
    reason : str
        One sentence with the scores and margin behind the decision.
    challenger_score : float
        The challenger's score, as given.
    champion_score : float or None
        The champion's score, or None when there was no champion.
    margin : float
        The absolute margin the challenger had to beat.
    """

    promote: bool
    reason: str
    challenger_score: float
    champion_score: float | None
    margin: float


def _check_margin(margin: float) -> float:
    value = float(margin)
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"margin={margin!r}: expected a finite number >= 0 in the metric's units "
            "(e.g. 0.005 for an IC)"
        )
    return value


def decide_promotion(
    challenger_score: float,
    champion_score: float | None,
    *,
    margin: float,
    higher_is_better: bool = True,
) -> PromotionDecision:
    """Decide whether a challenger replaces the champion.

    Parameters
    ----------
    challenger_score : float
        The new model's score.
    champion_score : float or None
        The current champion's score on the same evaluation data; None when
        there is no champion yet.
    margin : float
        Absolute amount (metric units, >= 0) by which the challenger must
        beat the champion, strictly.
    higher_is_better : bool, default True
        Direction of the metric; False for losses.

    Returns
    -------
    PromotionDecision
        ``promote`` is True when there is no champion and the challenger's
        score is finite, or when the improvement (see module conventions) is
        strictly greater than ``margin``.

    Raises
    ------
    ValueError
        When ``margin`` is negative or not finite.
    """
    margin = _check_margin(margin)
    challenger = float(challenger_score)
    champion = None if champion_score is None else float(champion_score)
    direction = "higher" if higher_is_better else "lower"

    def decision(promote: bool, reason: str) -> PromotionDecision:
        return PromotionDecision(promote, reason, challenger, champion, margin)

    if not math.isfinite(challenger):
        return decision(False, f"challenger score is {challenger}; a non-finite score never promotes")
    if champion is None:
        return decision(True, f"no champion yet; challenger score {challenger:.6g} becomes champion")
    if not math.isfinite(champion):
        return decision(
            False,
            f"champion score is {champion}; cannot compare, so no automatic promotion "
            "(re-score the champion or set the alias by hand)",
        )
    improvement = challenger - champion if higher_is_better else champion - challenger
    verdict = "beats" if improvement > margin else "does not beat"
    return decision(
        improvement > margin,
        f"challenger {challenger:.6g} vs champion {champion:.6g} ({direction} is better): "
        f"improvement {improvement:.6g} {verdict} margin {margin:.6g}",
    )
