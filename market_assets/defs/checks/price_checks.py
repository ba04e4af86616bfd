"""The price suite's outcomes as Dagster asset checks on ``validated_prices``.

Every check is ``blocking``: an ERROR-severity failure stops downstream assets
in the same run.  Row rules fail at WARN (their rows went to
``price_rejections``; what flows on is clean), so they show in the UI without
blocking.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import dagster as dg

from market_assets.defs.metadata import json_safe, markdown_table
from market_assets.quant.validation.result import RuleOutcome
from market_assets.quant.validation.rules import RULES

PRICE_CHECK_SPECS = [
    dg.AssetCheckSpec(
        name=rule.check_name, asset="validated_prices", blocking=True, description=rule.description
    )
    for rule in RULES
]

_SEVERITY = {"WARN": dg.AssetCheckSeverity.WARN, "ERROR": dg.AssetCheckSeverity.ERROR}


def check_results(outcomes: Iterable[RuleOutcome]) -> Iterator[dg.AssetCheckResult]:
    """One :class:`dagster.AssetCheckResult` per outcome, with readable metadata."""
    for outcome in outcomes:
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
        yield dg.AssetCheckResult(
            check_name=outcome.check_name,
            asset_key="validated_prices",
            passed=outcome.passed,
            severity=_SEVERITY[outcome.severity],
            description=outcome.description,
            metadata=metadata,
        )


def _metadata_value(value: object) -> object:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, float):
        return dg.MetadataValue.float(value)
    return str(value)
