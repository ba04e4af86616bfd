"""When failed drift and performance checks ask for a retrain: episodes, cool-down, run keys.

A sensor reads the check evaluations that failed since its cursor, turns each
into a :class:`CheckFailure`, calls :func:`decide_retrains` once and yields a
``RunRequest(run_key=r.run_key, tags=r.tags)`` per request, then stores
``decision.state.to_json()`` as its cursor.

Rules (sessions are counted on the exchange calendar passed in)
---------------------------------------------------------------
* **Episode.**  Failing sessions of one trigger (``drift`` or
  ``performance``) at most ``episode_gap_sessions`` apart form one episode: a
  streak of bad days is one episode, whichever checks failed within it.
* **One retrain per episode**, requested at the episode's first failing
  session that is past the cool-down.
* **Cool-down.**  No request within ``cooldown_sessions`` sessions after the
  previous one (any trigger): an episode that starts and ends inside it gets
  none (the recent retrain covers it); one that outlasts it gets its retrain
  at its first failing session after the cool-down expired.
* **Same session.**  Triggers failing on one session share one request (both
  named in its tags).  A failure arriving later for the session of the last
  request joins that request (its run key already exists) instead of waiting
  out the cool-down, so the decisions do not depend on how failures were
  split between sensor ticks.
* **Stale failures** of sessions more than ``max_lag_sessions`` before
  ``asof`` (a backfill of old checks) update the episodes but request nothing.
* **Replays.**  Failures with a ``record_id`` at or below the cursor are
  ignored.  ``run_key = f"{prefix}-{session}"`` is deterministic and at most
  one request exists per session, so a replay from an empty cursor that
  reaches the same decision reuses the same key and Dagster (which keeps run
  keys forever) launches nothing twice.
* **Order.**  Each tick handles its new failures in session order; a failure
  of a session at or before its trigger's last failing session already seen
  joins that episode without a request.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

TRIGGERS: tuple[str, ...] = ("drift", "performance")
TAG_PREFIX = "market_assets"
_JOIN = "join"  # a failure of the session of the last request joins it


@dataclass(frozen=True)
class CheckFailure:
    """A failed evaluation of a drift or performance check."""

    check_name: str
    partition: str          #: the session evaluated, ISO date (the check's partition key)
    record_id: int          #: storage id of the evaluation event: increases, serves as the cursor
    timestamp: float        #: when it was evaluated (Unix seconds)
    trigger: str            #: "drift" or "performance"


@dataclass(frozen=True)
class RetrainPolicy:
    """How failures become retrain requests (see the module docstring)."""

    cooldown_sessions: int = field(
        default=5, metadata={"description": "Sessions after a retrain request during which no other starts."})
    episode_gap_sessions: int = field(
        default=1, metadata={"description": "Failing sessions at most this far apart are one episode (1: consecutive)."})
    max_lag_sessions: int | None = field(
        default=5, metadata={"description": "Failures of sessions older than this before asof request nothing."})
    run_key_prefix: str = field(default="retrain", metadata={"description": "First part of every run key."})

    def __post_init__(self) -> None:
        for name in ("cooldown_sessions", "episode_gap_sessions"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}; expected at least 1 session")
        if self.max_lag_sessions is not None and self.max_lag_sessions < 0:
            raise ValueError(f"max_lag_sessions={self.max_lag_sessions}; expected >= 0 or None")


@dataclass(frozen=True)
class Episode:
    """The latest failure episode of one trigger."""

    trigger: str
    first: str
    last: str
    requested: bool


@dataclass(frozen=True)
class RetrainState:
    """What a sensor keeps between ticks (its cursor, as JSON)."""

    cursor: int = -1                    #: highest record_id handled
    last_request: str | None = None     #: session of the last requested retrain
    episodes: tuple[Episode, ...] = ()  #: latest episode per trigger

    def to_json(self) -> str:
        """The state as a JSON string (a sensor cursor)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> RetrainState:
        """The state stored by :meth:`to_json`; an empty or missing cursor is the initial state."""
        if not text:
            return cls()
        raw = json.loads(text)
        return cls(cursor=int(raw["cursor"]), last_request=raw["last_request"],
                   episodes=tuple(Episode(**e) for e in raw["episodes"]))


@dataclass(frozen=True)
class RetrainRequest:
    """One retrain run to request."""

    run_key: str
    session: str
    triggers: tuple[str, ...]
    checks: tuple[str, ...]
    record_ids: tuple[int, ...]
    tags: dict[str, str]


@dataclass(frozen=True)
class RetrainDecision:
    """The requests of one tick, the new state, and why the other failures requested nothing."""

    requests: tuple[RetrainRequest, ...]
    state: RetrainState
    skipped: tuple[tuple[CheckFailure, str], ...]


def decide_retrains(
    failures: Sequence[CheckFailure], state: RetrainState, *, calendar: Sequence[dt.date], asof: dt.date,
    policy: RetrainPolicy = RetrainPolicy(),
) -> RetrainDecision:
    """The retrain runs to request for ``failures`` given the previous ``state``.

    Parameters
    ----------
    failures
        Failed check evaluations (any order; those at or below ``state.cursor`` are ignored).
    state
        The previous tick's ``decision.state`` (``RetrainState()`` at first).
    calendar
        Exchange sessions, increasing, covering every failure's partition and ``asof``.
    asof
        The latest closed session (for ``max_lag_sessions``).
    policy
        Episode, cool-down and run-key settings.

    Returns
    -------
    RetrainDecision
    """
    position = {session.isoformat(): i for i, session in enumerate(calendar)}
    now = _position_on_or_before(calendar, asof)
    fresh = sorted((f for f in failures if f.record_id > state.cursor),
                   key=lambda f: (_position(position, f), f.record_id))
    episodes = {e.trigger: e for e in state.episodes}
    last_request, requests, skipped = state.last_request, [], []
    for session in dict.fromkeys(f.partition for f in fresh):
        waiting = _advance_episodes([f for f in fresh if f.partition == session], episodes, position, policy, skipped)
        if not waiting:
            continue
        blocked = _blocked(position[session], now, last_request, position, policy)
        if blocked not in (None, _JOIN):
            skipped.extend((f, blocked) for f in waiting)
            continue
        for trigger in {f.trigger for f in waiting}:
            episodes[trigger] = replace(episodes[trigger], requested=True)
        if blocked == _JOIN:
            skipped.extend((f, f"joined the retrain already requested for {session}") for f in waiting)
        else:
            requests.append(_request(session, waiting, policy))
            last_request = session
    cursor = max([state.cursor, *(f.record_id for f in fresh)])
    new_state = RetrainState(cursor, last_request, tuple(episodes[t] for t in TRIGGERS if t in episodes))
    return RetrainDecision(tuple(requests), new_state, tuple(skipped))


def _advance_episodes(here: Sequence[CheckFailure], episodes: dict[str, Episode], position: dict[str, int],
                      policy: RetrainPolicy, skipped: list) -> list[CheckFailure]:
    """Extend or open each trigger's episode with one session's failures; those still awaiting a retrain."""
    opened: set[str] = set()
    for f in here:
        known = episodes.get(f.trigger)
        if f.trigger in opened:
            continue
        if known is not None and position[f.partition] <= position[known.last]:
            skipped.append((f, f"already in the {f.trigger} episode {known.first}..{known.last}"))
            continue
        if known is not None and position[f.partition] - position[known.last] <= policy.episode_gap_sessions:
            episodes[f.trigger] = replace(known, last=f.partition)
        else:
            episodes[f.trigger] = Episode(f.trigger, f.partition, f.partition, requested=False)
        opened.add(f.trigger)
    current = [f for f in here if f.trigger in opened]
    skipped.extend((f, "its episode already has a retrain") for f in current if episodes[f.trigger].requested)
    return [f for f in current if not episodes[f.trigger].requested]


def run_key(session: str, policy: RetrainPolicy = RetrainPolicy()) -> str:
    """The run key of the retrain requested for ``session``: ``"<prefix>-<session>"``."""
    return f"{policy.run_key_prefix}-{session}"


def _request(session: str, failures: Sequence[CheckFailure], policy: RetrainPolicy) -> RetrainRequest:
    triggers = tuple(sorted({f.trigger for f in failures}))
    checks = tuple(sorted({f.check_name for f in failures}))
    ids = tuple(sorted(f.record_id for f in failures))
    tags = {
        f"{TAG_PREFIX}/retrain_trigger": ",".join(triggers),
        f"{TAG_PREFIX}/failed_checks": ",".join(checks),
        f"{TAG_PREFIX}/failed_partition": session,
        f"{TAG_PREFIX}/failure_record_ids": ",".join(map(str, ids)),
    }
    return RetrainRequest(run_key(session, policy), session, triggers, checks, ids, tags)


def _blocked(p: int, now: int, last_request: str | None, position: dict[str, int],
             policy: RetrainPolicy) -> str | None:
    """Why a request at session index ``p`` may not start (None: it may)."""
    if policy.max_lag_sessions is not None and now - p > policy.max_lag_sessions:
        return f"stale: {now - p} sessions before asof, more than max_lag_sessions={policy.max_lag_sessions}"
    if last_request is None:
        return None
    since = p - position[last_request]
    if since == 0:
        return _JOIN
    if since < policy.cooldown_sessions:
        return f"cool-down: {since} session(s) after the retrain of {last_request} (< {policy.cooldown_sessions})"
    return None


def _position(position: dict[str, int], failure: CheckFailure) -> int:
    if failure.trigger not in TRIGGERS:
        raise ValueError(f"check {failure.check_name!r} (record {failure.record_id}) has trigger "
                         f"{failure.trigger!r}; expected one of {list(TRIGGERS)}")
    if failure.partition not in position:
        raise ValueError(f"check {failure.check_name!r} (record {failure.record_id}) failed for partition "
                         f"{failure.partition!r}, which is not a session of the calendar given; pass the "
                         "exchange calendar covering it (ISO dates, e.g. '2025-03-04')")
    return position[failure.partition]


def _position_on_or_before(calendar: Sequence[dt.date], asof: dt.date) -> int:
    earlier = [i for i, session in enumerate(calendar) if session <= asof]
    if not earlier:
        raise ValueError(f"asof={asof} precedes the calendar's first session {calendar[0] if calendar else None}")
    return earlier[-1]
