"""Checks on ``feature_table``: finite values, nulls only in warm-up, constant and redundant features.

Each session is judged on its own rows, so its verdict does not depend on how
a run batches the sessions.  What Dagster 1.13 allows (checked on 1.13.27):

* ``AssetCheckResult`` has no partition argument and may be given once per
  check and step: Dagster records it on no partition (also in a one-session
  run, unless the spec carries ``partitions_def``, a preview feature that
  costs ~35 s of planning per 500-session run for nine checks, so the specs
  here do not).  An ``AssetCheckEvaluation`` with ``partition=`` yielded by
  the asset is recorded on that partition.  Runs of up to
  ``per_session_limit`` sessions (the nightly one included) therefore give
  each session its own evaluation of the row checks (one event-log write
  each, 15-30 ms on SQLite); longer runs keep to the run-level result.
* The run-level result passes when every session passes, names the sessions
  judged and lists the failing ones (a markdown table and a JSON mapping
  session -> number of offending features).

Redundancy is a property of the feature set that needs many rows: it is
judged once per run on a sample pooled over the run's sessions (a one-session
run: that session's rows) and has no per-session evaluation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import dagster as dg
import polars as pl

from market_assets.defs.metadata import json_safe, markdown_table

ASSET = dg.AssetKey("feature_table")

FEATURE_CHECK_SPECS = [
    dg.AssetCheckSpec(
        "features_are_finite", asset=ASSET, blocking=True,
        description="No feature value of a session is +inf, -inf or NaN (undefined values are null).",
    ),
    dg.AssetCheckSpec(
        "features_are_populated_after_warmup", asset=ASSET, blocking=True,
        description="Past each feature's warm-up, its null share in a session stays under the configured limit.",
    ),
    dg.AssetCheckSpec(
        "features_are_not_constant", asset=ASSET,
        description="No feature is constant across the symbols of a session (per-date features excepted). WARN.",
    ),
    dg.AssetCheckSpec(
        "features_are_not_redundant", asset=ASSET,
        description="No two features have |Pearson correlation| above the limit on the run's rows. WARN; "
        "pairs listed.",
    ),
]
_SPECS = {spec.name: spec for spec in FEATURE_CHECK_SPECS}


@dataclass(frozen=True)
class SessionVerdicts:
    """One check judged session by session.

    ``metadata`` holds each session's own numbers, ``failing`` the number of
    offending features of each failing session, ``summary`` the run-level
    numbers shown next to the per-session breakdown.
    """

    check_name: str
    severity: dg.AssetCheckSeverity
    metadata: dict[str, dict[str, object]]
    failing: dict[str, int]
    summary: dict[str, object] = field(default_factory=dict)

    def evaluations(self) -> Iterator[dg.AssetCheckEvaluation]:
        """Each session's own evaluation, recorded on its partition."""
        spec = _SPECS[self.check_name]
        for session, metadata in self.metadata.items():
            yield dg.AssetCheckEvaluation(
                asset_key=ASSET, check_name=self.check_name, passed=session not in self.failing,
                severity=self.severity, blocking=spec.blocking, partition=session, metadata=metadata,
            )

    def result(self) -> dg.AssetCheckResult:
        """The run's result: one session's own numbers, or the run summary with its per-session breakdown."""
        sessions = list(self.metadata)
        if len(sessions) == 1:
            metadata = {"sessions_judged": sessions[0], **self.metadata[sessions[0]]}
        else:
            metadata = {
                "sessions_judged": f"{sessions[0]} … {sessions[-1]}" if sessions else "—",
                "sessions": len(sessions),
                "sessions_failing": len(self.failing),
                **self.summary,
                "failing_by_session_table": markdown_table(
                    [{"session": s, "features": n} for s, n in self.failing.items()], limit=30
                ),
                "failing_by_session": dg.MetadataValue.json(json_safe(self.failing)),
            }
        return dg.AssetCheckResult(
            check_name=self.check_name, asset_key=ASSET, passed=not self.failing,
            severity=self.severity, metadata=metadata,
        )


def feature_check_results(
    table: pl.DataFrame,
    *,
    sessions: Sequence[str],
    warmups: Mapping[str, int],
    per_date_features: Sequence[str],
    max_null_share: float,
    max_abs_corr: float,
    per_session_limit: int,
) -> Iterator[dg.AssetCheckResult | dg.AssetCheckEvaluation]:
    """Per-session evaluations (range runs up to ``per_session_limit``) and one result per check.

    ``table`` is the stored output (the run's sessions) plus a ``history``
    column; ``sessions`` are the run's partition keys.  ``per_date_features``
    (calendar, regime probabilities) are the same for every symbol of a
    session, so constancy and correlation skip them.
    """
    for verdicts in (
        finite_verdicts(table, sessions),
        populated_verdicts(table, sessions, warmups, max_null_share),
        constant_verdicts(table, sessions, per_date_features),
    ):
        if len(sessions) <= per_session_limit:
            yield from verdicts.evaluations()
        yield verdicts.result()
    yield redundancy_result(table, sessions, per_date_features, max_abs_corr)


def finite_verdicts(table: pl.DataFrame, sessions: Sequence[str]) -> SessionVerdicts:
    """``features_are_finite``, session by session (ERROR)."""
    from market_assets.quant.feature_quality import nonfinite_by_session

    counts = _keyed(nonfinite_by_session(table), sessions, {})
    pooled: dict[str, int] = {}
    for per_feature in counts.values():
        for name, n in per_feature.items():
            pooled[name] = pooled.get(name, 0) + n
    return SessionVerdicts(
        "features_are_finite", dg.AssetCheckSeverity.ERROR,
        metadata={s: {"features_with_nonfinite": len(c), "nonfinite_values": sum(c.values()),
                      "counts": _feature_table(c, "values")} for s, c in counts.items()},
        failing={s: len(c) for s, c in counts.items() if c},
        summary={"features_with_nonfinite": len(pooled), "counts": _feature_table(pooled, "values")},
    )


def populated_verdicts(
    table: pl.DataFrame, sessions: Sequence[str], warmups: Mapping[str, int], max_null_share: float
) -> SessionVerdicts:
    """``features_are_populated_after_warmup``, session by session (ERROR)."""
    from market_assets.quant.feature_quality import null_shares_by_session

    shares = _keyed(null_shares_by_session(table, warmups), sessions, {})
    over = {s: {k: v for k, v in sorted(sh.items(), key=lambda kv: -kv[1]) if v > max_null_share}
            for s, sh in shares.items()}
    worst = {s: max(sh.values(), default=0.0) for s, sh in shares.items()}
    limit = dg.MetadataValue.float(max_null_share)
    sessions_over: dict[str, int] = {}
    for per_feature in over.values():
        for name in per_feature:
            sessions_over[name] = sessions_over.get(name, 0) + 1
    return SessionVerdicts(
        "features_are_populated_after_warmup", dg.AssetCheckSeverity.ERROR,
        metadata={s: {"max_null_share": dg.MetadataValue.float(worst[s]), "limit": limit,
                      "features_over_limit": len(o), "worst": _feature_table(o, "null_share")}
                  for s, o in over.items()},
        failing={s: len(o) for s, o in over.items() if o},
        summary={"max_null_share": dg.MetadataValue.float(max(worst.values(), default=0.0)), "limit": limit,
                 "features_over_limit": len(sessions_over),
                 "worst": _feature_table(dict(sorted(sessions_over.items(), key=lambda kv: -kv[1])),
                                         "sessions_over_limit")},
    )


def constant_verdicts(table: pl.DataFrame, sessions: Sequence[str], skip: Sequence[str]) -> SessionVerdicts:
    """``features_are_not_constant``, session by session (WARN)."""
    from market_assets.quant.feature_quality import constant_by_session

    constant = _keyed(constant_by_session(table, skip=skip), sessions, [])
    union = sorted({name for names in constant.values() for name in names})
    return SessionVerdicts(
        "features_are_not_constant", dg.AssetCheckSeverity.WARN,
        metadata={s: {"constant_features": len(c), "names": ", ".join(c) or "—"} for s, c in constant.items()},
        failing={s: len(c) for s, c in constant.items() if c},
        summary={"constant_features": len(union), "names": ", ".join(union) or "—"},
    )


def redundancy_result(
    table: pl.DataFrame, sessions: Sequence[str], skip: Sequence[str], max_abs_corr: float
) -> dg.AssetCheckResult:
    """``features_are_not_redundant`` on a sample pooled over the run's sessions (WARN)."""
    from market_assets.quant.feature_quality import sample_rows
    from market_assets.quant.selection import high_correlation_pairs

    sample = sample_rows(table.drop("date", "symbol", "history", *skip, strict=False))
    pairs = high_correlation_pairs(sample, threshold=max_abs_corr)
    judged = sessions[0] if len(sessions) == 1 else f"{sessions[0]} … {sessions[-1]} (pooled)"
    return dg.AssetCheckResult(
        check_name="features_are_not_redundant", asset_key=ASSET, passed=pairs.is_empty(),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"sessions_judged": judged, "sessions": len(sessions), "pairs_over_limit": pairs.height,
                  "limit": dg.MetadataValue.float(max_abs_corr), "sampled_rows": sample.height,
                  "pairs": markdown_table(pairs.head(50).to_dicts(), limit=50)},
    )


def _keyed(by_date: Mapping, sessions: Sequence[str], empty: object) -> dict:
    """``{session key: value}`` for every session of the run (``empty`` where it has no rows)."""
    by_key = {day.isoformat(): value for day, value in by_date.items()}
    return {s: by_key.get(s, empty) for s in sorted(sessions)}


def _feature_table(values: Mapping[str, object], column: str) -> dg.MetadataValue:
    return markdown_table([{"feature": k, column: v} for k, v in values.items()])
