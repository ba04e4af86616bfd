"""Retrain decisions: streaks, cool-down, two triggers on one session, replays, stale failures."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from market_assets.quant.retrain_policy import (
    CheckFailure,
    RetrainPolicy,
    RetrainState,
    decide_retrains,
)

# 30 weekdays from Monday 2025-03-03 (the policy needs only an increasing session list)
CALENDAR = [d for d in (dt.date(2025, 3, 3) + dt.timedelta(days=k) for k in range(42)) if d.weekday() < 5][:30]
ASOF = CALENDAR[-1]
_ids = itertools.count(1)


def fail(session: int, trigger: str = "drift", check: str | None = None) -> CheckFailure:
    """A failure of session index ``session`` (records numbered in creation order)."""
    name = check or {"drift": "no_feature_drift", "performance": "performance_meets_floors"}[trigger]
    record = next(_ids)
    return CheckFailure(name, CALENDAR[session].isoformat(), record, 1.7e9 + record, trigger)


def decide(failures, state=None, *, asof=ASOF, **policy):  # noqa: ANN001, ANN201 - test shorthand
    return decide_retrains(failures, state or RetrainState(), calendar=CALENDAR, asof=asof,
                           policy=RetrainPolicy(**{"max_lag_sessions": None, **policy}))


def keys(decision) -> list[str]:  # noqa: ANN001
    return [r.run_key for r in decision.requests]


def test_a_streak_of_bad_sessions_requests_one_retrain() -> None:
    decision = decide([fail(s) for s in range(3, 13)], cooldown_sessions=5)
    assert keys(decision) == [f"retrain-{CALENDAR[3]}"]
    request = decision.requests[0]
    assert request.tags == {
        "market_assets/retrain_trigger": "drift", "market_assets/failed_checks": "no_feature_drift",
        "market_assets/failed_partition": CALENDAR[3].isoformat(),
        "market_assets/failure_record_ids": str(request.record_ids[0]),
    }
    assert len(decision.skipped) == 9 and all("already has a retrain" in why for _, why in decision.skipped)
    episode = decision.state.episodes[0]
    assert (episode.first, episode.last, episode.requested) == (CALENDAR[3].isoformat(), CALENDAR[12].isoformat(), True)


def test_a_new_episode_after_the_cool_down_requests_again() -> None:
    decision = decide([fail(2), fail(3), fail(9), fail(10)], cooldown_sessions=5)
    assert keys(decision) == [f"retrain-{CALENDAR[2]}", f"retrain-{CALENDAR[9]}"]


def test_an_episode_inside_the_cool_down_gets_none() -> None:
    decision = decide([fail(2), fail(4), fail(5)], cooldown_sessions=5)
    assert keys(decision) == [f"retrain-{CALENDAR[2]}"]
    assert [why.split(":")[0] for _, why in decision.skipped] == ["cool-down", "cool-down"]


def test_an_episode_outlasting_the_cool_down_gets_its_retrain_when_it_expires() -> None:
    decision = decide([fail(2), fail(4), fail(5), fail(6), fail(7), fail(8)], cooldown_sessions=5)
    assert keys(decision) == [f"retrain-{CALENDAR[2]}", f"retrain-{CALENDAR[7]}"]   # 7 - 2 == 5


def test_the_episode_gap_bridges_a_passing_session() -> None:
    failures = [fail(2), fail(4)]
    assert len(decide(failures, cooldown_sessions=1).requests) == 2
    assert len(decide(failures, cooldown_sessions=1, episode_gap_sessions=2).requests) == 1


def test_two_triggers_on_one_session_share_one_request() -> None:
    decision = decide([fail(4, "performance"), fail(4, "drift"), fail(4, "drift", "no_prediction_drift")])
    (request,) = decision.requests
    assert request.run_key == f"retrain-{CALENDAR[4]}"
    assert request.triggers == ("drift", "performance")
    assert request.tags["market_assets/failed_checks"] == "no_feature_drift,no_prediction_drift,performance_meets_floors"
    assert all(e.requested for e in decision.state.episodes)


def test_a_trigger_failing_in_a_later_tick_for_the_same_session_joins_the_request() -> None:
    drift, performance, next_day = fail(4, "drift"), fail(4, "performance"), fail(5, "performance")
    first = decide([drift])
    second = decide([drift, performance], first.state)
    third = decide([drift, performance, next_day], second.state)
    assert keys(first) == [f"retrain-{CALENDAR[4]}"] and keys(second) == [] and keys(third) == []
    assert "joined the retrain already requested" in second.skipped[0][1]
    assert third.state == decide([drift, performance, next_day]).state   # same as one batch


def test_replays_request_nothing_twice() -> None:
    history = [fail(s) for s in (1, 2, 3, 10, 11)] + [fail(20, "performance"), fail(21, "performance")]
    batch = decide(history, cooldown_sessions=5)
    assert keys(decide(history, batch.state, cooldown_sessions=5)) == []        # same records again
    state, incremental = RetrainState(), []
    for failure in history:                                                      # one record per tick
        step = decide(history[: history.index(failure) + 1], state, cooldown_sessions=5)
        incremental += keys(step)
        state = step.state
    assert incremental == keys(batch) == [f"retrain-{CALENDAR[1]}", f"retrain-{CALENDAR[10]}",
                                          f"retrain-{CALENDAR[20]}"]
    assert RetrainState.from_json(state.to_json()) == state == batch.state
    assert RetrainState.from_json(None) == RetrainState() == RetrainState.from_json("")


def test_stale_failures_update_the_episode_but_request_nothing() -> None:
    decision = decide([fail(2), fail(3)], asof=CALENDAR[20], max_lag_sessions=5)
    assert keys(decision) == []
    assert decision.skipped[0][1].startswith("stale: 18 sessions before asof")
    assert decision.state.episodes[0].last == CALENDAR[3].isoformat()
    # the episode continues into the present: its first recent session requests the retrain
    later = decide([fail(2), fail(3), *[fail(s) for s in range(4, 21)]], decision.state,
                   asof=CALENDAR[20], max_lag_sessions=5)
    assert keys(later) == [f"retrain-{CALENDAR[15]}"]


def test_late_failure_of_an_older_session_joins_the_known_episode() -> None:
    first = decide([fail(6), fail(7)])
    late = fail(5)
    second = decide([late], first.state)
    assert keys(second) == [] and "already in the drift episode" in second.skipped[0][1]
    assert second.state.cursor == late.record_id


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="trigger 'latency'; expected one of"):
        decide([CheckFailure("x", CALENDAR[1].isoformat(), 10**6, 0.0, "latency")])
    with pytest.raises(ValueError, match="partition '2025-03-08', which is not a session"):
        decide([CheckFailure("no_feature_drift", "2025-03-08", 10**6 + 1, 0.0, "drift")])
    with pytest.raises(ValueError, match="cooldown_sessions=0; expected at least 1"):
        RetrainPolicy(cooldown_sessions=0)
    with pytest.raises(ValueError, match="precedes the calendar"):
        decide([], asof=dt.date(2020, 1, 1))
