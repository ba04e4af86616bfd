"""One session's view of a batch's check outcomes (pure).

A range run validates many sessions in one batch; each session still deserves
its own verdict.  :func:`session_outcome` derives it from the batch outcome:

* ``failing_count`` is the session's entry of ``per_session``; the session
  passes when it is zero (and the check could be evaluated).
* ``observed`` is a share of that session: failing rows over the session's raw
  rows (row rules), bad cells over the universe (``sessions_are_complete``,
  whose failures also count the rows stored under the session but dated
  outside the sessions; those fill no cell and do not raise the share).
* ``sessions_are_complete`` fails at ERROR for the session when its bad share
  exceeds ``max_bad_share`` or it has no valid row; every other rule keeps the
  batch's severity (row rules WARN; the schema check is about the whole batch).
* ``examples`` keep the batch examples stored under the session (their
  ``session``, else their ``date``).
"""

from __future__ import annotations

import dataclasses

from market_assets.quant.validation.result import RuleOutcome

_SESSION_RULE = "sessions_are_complete"
_BATCH_RULE = "prices_have_schema"


def session_outcome(
    outcome: RuleOutcome, session: str, *, raw_rows: int, universe_size: int,
    valid_rows: int, max_bad_share: float,
) -> RuleOutcome:
    """The verdict of ``outcome`` for the ISO ``session`` alone (see the module docstring)."""
    if outcome.check_name == _BATCH_RULE or not outcome.evaluated:
        return outcome
    failing = int(outcome.per_session.get(session, 0))
    severity = outcome.severity
    if outcome.check_name == _SESSION_RULE:
        # validated rows are unique universe cells, so the session's bad cells are the rest;
        # the other failures are rows dated outside the sessions, which fill no cell
        bad = max(universe_size - valid_rows, 0)
        share = bad / universe_size if universe_size else 0.0
        severity = "ERROR" if share > max_bad_share or valid_rows == 0 else "WARN"
        details = (f"{bad} of {universe_size} (session, symbol) cells bad ({share:.1%}); "
                   f"{failing - bad} rows dated outside the sessions; "
                   f"{valid_rows} valid rows; ERROR above {max_bad_share:.1%} bad cells or no valid row")
    else:
        share = failing / raw_rows if raw_rows else 0.0
        details = f"{failing} of {raw_rows} raw rows of {session} failed"
    return dataclasses.replace(
        outcome,
        passed=failing == 0 and (outcome.check_name != _SESSION_RULE or valid_rows > 0),
        severity=severity,
        failing_count=failing,
        observed=share,
        examples=[e for e in outcome.examples if e.get("session", e.get("date")) == session],
        per_session={session: failing} if failing else {},
        details=details,
    )
