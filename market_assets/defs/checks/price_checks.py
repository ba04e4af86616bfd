"""The price suite's outcomes as Dagster asset checks on ``validated_prices``.

Every check is ``blocking``: an ERROR-severity failure stops downstream assets
in the same run.  Row rules fail at WARN (their rows went to
``price_rejections``; what flows on is clean), so they show in the UI without
blocking.

Per session: Dagster 1.13 records a check *result* on no partition (giving
the specs ``partitions_def``, a preview feature, would record a one-session
run's result on its session but costs ~35 s of planning per 500-session run).
The run's result therefore names the sessions it judged and lists the failing
ones, and runs of up to ``per_session_limit`` sessions (the nightly one
included) also record each session's own evaluation of each check (one
event-log write each, 15-30 ms on SQLite, so a two-year backfill keeps to the
run-level breakdown).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import dagster as dg

from market_assets.defs.metadata import json_safe, markdown_table
from market_assets.quant.validation.result import RuleOutcome
from market_assets.quant.validation.rules import RULES
from market_assets.quant.validation.sessions import session_outcome

PRICE_CHECK_SPECS = [
    dg.AssetCheckSpec(
        name=rule.check_name, asset="validated_prices", blocking=True, description=rule.description,
    )
    for rule in RULES
]

_SEVERITY = {"WARN": dg.AssetCheckSeverity.WARN, "ERROR": dg.AssetCheckSeverity.ERROR}
ASSET = dg.AssetKey("validated_prices")


def check_results(outcomes: Iterable[RuleOutcome], sessions: list[str]) -> Iterator[dg.AssetCheckResult]:
    """One :class:`dagster.AssetCheckResult` per outcome of the batch ``sessions``."""
    for outcome in outcomes:
        metadata = _metadata(outcome)
        metadata["sessions_judged"] = sessions[0] if len(sessions) == 1 else f"{sessions[0]} … {sessions[-1]}"
        metadata["sessions_failing"] = len(outcome.per_session) if outcome.evaluated else len(sessions)
        if len(sessions) > 1 and outcome.per_session:
            metadata["failing_by_session_table"] = markdown_table(
                [{"session": s, "failing": n} for s, n in outcome.per_session.items()], limit=30
            )
        yield dg.AssetCheckResult(
            check_name=outcome.check_name, asset_key=ASSET, passed=outcome.passed,
            severity=_SEVERITY[outcome.severity], description=outcome.description, metadata=metadata,
        )


def session_check_evaluations(
    outcomes: Iterable[RuleOutcome], sessions: list[str], *, raw_rows: Mapping[str, int],
    valid_rows: Mapping[str, int], universe_size: int, max_bad_share: float,
) -> Iterator[dg.AssetCheckEvaluation]:
    """Each session's own verdict of every check, as partitioned check evaluations."""
    outcomes = list(outcomes)
    for session in sessions:
        for outcome in outcomes:
            own = session_outcome(
                outcome, session, raw_rows=raw_rows.get(session, 0), universe_size=universe_size,
                valid_rows=valid_rows.get(session, 0), max_bad_share=max_bad_share,
            )
            yield dg.AssetCheckEvaluation(
                asset_key=ASSET, check_name=own.check_name, passed=own.passed, partition=session,
                severity=_SEVERITY[own.severity], description=own.description, blocking=True,
                metadata=_metadata(own),
            )


def _metadata(outcome: RuleOutcome) -> dict[str, object]:
    metadata: dict[str, object] = {
        "failing_rows": outcome.failing_count,
        "observed": _metadata_value(outcome.observed),
        "expected": _metadata_value(outcome.expected),
        "severity_if_failed": outcome.severity,
        "evaluated": str(outcome.evaluated),
        "details": outcome.details,
        "examples": markdown_table([json_safe(e) for e in outcome.examples], limit=5),
    }
    if outcome.reason_code:
        metadata["reason_code"] = outcome.reason_code
    if outcome.per_session:
        metadata["failing_by_session"] = dg.MetadataValue.json(json_safe(outcome.per_session))
    return metadata


def _metadata_value(value: object) -> object:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, float):
        return dg.MetadataValue.float(value)
    return str(value)
