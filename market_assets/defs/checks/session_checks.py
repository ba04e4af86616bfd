"""Per-session check verdicts as Dagster check events (monitoring checks).

Dagster 1.13 records an ``AssetCheckResult`` on no partition (see
:mod:`market_assets.defs.checks.price_checks`).  Each session's verdict is
therefore also logged as a partitioned ``AssetCheckEvaluation`` when the run
holds at most ``per_session_limit`` sessions (the nightly run: one), and the
run's result summarises: it passes when every session passes, names the
sessions judged, lists the failing ones and repeats the last session's
observed value and threshold.  The retrain sensor reads the partitioned
evaluations.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import dagster as dg

from market_assets.defs.metadata import markdown_table


@dataclass(frozen=True)
class SessionVerdict:
    """One session's verdict of one check, with what was observed and the threshold."""

    session: str
    passed: bool
    metadata: Mapping[str, object]
    description: str


def session_check_events(
    asset: str, check_name: str, verdicts: Sequence[SessionVerdict], *, per_session_limit: int,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> Iterator[dg.AssetCheckEvaluation | dg.AssetCheckResult]:
    """Partitioned evaluations (short runs) then the run's result of ``check_name``."""
    key = dg.AssetKey(asset)
    if len(verdicts) <= per_session_limit:
        for verdict in verdicts:
            yield dg.AssetCheckEvaluation(
                asset_key=key, check_name=check_name, passed=verdict.passed, partition=verdict.session,
                severity=severity, description=verdict.description, blocking=False, metadata=dict(verdict.metadata),
            )
    failing = [v for v in verdicts if not v.passed]
    last = verdicts[-1]
    judged = last.session if len(verdicts) == 1 else f"{verdicts[0].session} … {last.session}"
    yield dg.AssetCheckResult(
        check_name=check_name, asset_key=key, passed=not failing, severity=severity,
        description=last.description if len(verdicts) == 1 else
        f"{len(failing)} of {len(verdicts)} sessions failed; last session: {last.description}",
        metadata={
            **dict(last.metadata),
            "sessions_judged": judged,
            "sessions_failing": len(failing),
            "failing_sessions": markdown_table(
                [{"session": v.session, "why": v.description} for v in failing], limit=30
            ),
        },
    )
