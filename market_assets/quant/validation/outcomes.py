"""Turn failure masks into :class:`RuleOutcome` objects (counts, examples, severity)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from market_assets.quant.validation.result import RuleOutcome, ValidationConfig
from market_assets.quant.validation.rules import JUMP_REFERENCE, LOG_JUMP, ROW, RULES, SESSION, Rule
from market_assets.schema import PRICE_COLUMNS

RULES_BY_NAME: dict[str, Rule] = {rule.check_name: rule for rule in RULES}
_SORT = ["date", "symbol", ROW]


def schema_outcome(problems: list[str]) -> RuleOutcome:
    """``prices_have_schema``: ERROR listing every schema problem, if any."""
    rule = RULES_BY_NAME["prices_have_schema"]
    return RuleOutcome(
        check_name=rule.check_name,
        description=rule.description,
        reason_code=None,
        passed=not problems,
        severity="ERROR",
        failing_count=len(problems),
        observed="; ".join(problems) if problems else "price schema",
        expected="price schema (PRICE_SCHEMA of market_assets.schema)",
        examples=[{"problem": problem} for problem in problems[:5]],
        details="; ".join(problems) if problems else "all price columns present with their dtypes",
    )


def not_evaluated_outcome(rule: Rule) -> RuleOutcome:
    """A check that could not run because the schema check failed."""
    return RuleOutcome(
        check_name=rule.check_name,
        description=rule.description,
        reason_code=";".join(rule.reason_codes) or None,
        passed=False,
        severity="WARN",
        failing_count=0,
        observed="not evaluated",
        expected="evaluated",
        details="not evaluated: the raw prices do not have the price schema (see prices_have_schema)",
        evaluated=False,
    )


def row_rule_outcome(rule: Rule, judged: pl.DataFrame, masks: dict[str, np.ndarray],
                     config: ValidationConfig) -> RuleOutcome:
    """A WARN outcome for a row rule: its failing rows are rejected, the rest flows on.

    ``judged`` holds the target rows with ``reasons`` and helper columns.
    """
    counts = {code: int(masks[code].sum()) for code in rule.reason_codes}
    failing = np.logical_or.reduce([masks[code] for code in rule.reason_codes])
    failed_rows = judged.filter(pl.Series(failing))
    extra = [JUMP_REFERENCE, LOG_JUMP] if rule.check_name == "no_unexplained_jumps" else []
    details = f"{len(failed_rows)} of {judged.height} target rows rejected (" + ", ".join(
        f"{n} {code}" for code, n in counts.items()
    ) + ")"
    if extra and len(failed_rows):
        largest = failed_rows[LOG_JUMP].abs().max()
        details += f"; largest |ln(adj_close / reference)| {largest:.3f}, limit {config.max_abs_log_jump}"
    return RuleOutcome(
        check_name=rule.check_name,
        description=rule.description,
        reason_code=";".join(rule.reason_codes),
        passed=len(failed_rows) == 0,
        severity="WARN",
        failing_count=len(failed_rows),
        observed=len(failed_rows) / judged.height if judged.height else 0.0,
        expected=0.0,
        examples=row_examples(failed_rows, config.max_examples, extra),
        per_session=count_per_session(failed_rows),
        details=details,
    )


def completeness_outcome(
    validated: pl.DataFrame,
    judged: pl.DataFrame,
    off_session: np.ndarray,
    sessions: Sequence[dt.date],
    universe: Sequence[str],
    config: ValidationConfig,
) -> RuleOutcome:
    """``sessions_are_complete``: WARN for missing or rejected cells, ERROR when untrusted.

    ERROR when the share of bad cells of any one session (of the universe)
    exceeds ``config.max_bad_share`` or a session has no valid row at all.
    """
    rule = RULES_BY_NAME["sessions_are_complete"]
    cells = bad_cells(validated, judged.filter(pl.col("reasons") != ""), sessions, universe)
    n_cells = len(sessions) * len(universe)
    share = len(cells) / n_cells
    # The ERROR limit holds per session: one untrusted session in a long batch is
    # not diluted by the good ones.
    worst = max(cells.group_by("date").len()["len"].to_list(), default=0) / len(universe)
    empty = sorted(set(sessions) - set(validated["date"].unique().to_list()))
    outside = judged.filter(pl.Series(off_session))
    n_missing = int((cells["status"] == "missing").sum())
    examples = row_examples(cells, config.max_examples)
    room = config.max_examples - len(examples)
    examples += [{**e, "status": "outside_sessions"} for e in row_examples(outside, room)]
    details = (
        f"{len(cells)} of {n_cells} (session, symbol) cells bad ({share:.1%}): {n_missing} missing, "
        f"{len(cells) - n_missing} rejected; rows dated outside the sessions: {len(outside)}; "
        "sessions without a valid row: "
        f"{[d.isoformat() for d in empty[:5]] or 'none'}; ERROR when a session has more than "
        f"{config.max_bad_share:.1%} bad cells"
    )
    return RuleOutcome(
        check_name=rule.check_name,
        description=rule.description,
        reason_code=";".join(rule.reason_codes),
        passed=len(cells) == 0 and len(outside) == 0,
        severity="ERROR" if worst > config.max_bad_share or empty else "WARN",
        failing_count=len(cells) + len(outside),
        observed=share,
        expected=0.0,
        examples=examples,
        per_session=count_per_session(pl.concat([cells.select("date"), stored_dates(outside)])),
        details=details,
    )


def bad_cells(validated: pl.DataFrame, rejected: pl.DataFrame, sessions: Sequence[dt.date],
              universe: Sequence[str]) -> pl.DataFrame:
    """(date, symbol, status) of every expected cell without a validated row, sorted.

    ``status`` is ``"rejected"`` when the cell had raw rows (all in ``rejected``),
    else ``"missing"``.
    """
    if validated.height == len(sessions) * len(universe):  # validated keys are unique cells
        return pl.DataFrame(schema={"date": pl.Date, "symbol": pl.String, "status": pl.String})
    grid = pl.DataFrame({"date": pl.Series(sessions, dtype=pl.Date)}).join(
        pl.DataFrame({"symbol": pl.Series(universe, dtype=pl.String)}), how="cross"
    )
    # a bad cell that received rows received only rejected ones
    received = rejected.select("date", "symbol").unique().with_columns(status=pl.lit("rejected"))
    return (
        grid.join(validated.select("date", "symbol"), on=["date", "symbol"], how="anti")
        .join(received, on=["date", "symbol"], how="left")
        .with_columns(pl.col("status").fill_null("missing"))
        .sort("date", "symbol")
    )


def row_examples(rows: pl.DataFrame, limit: int, extra: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The first ``limit`` rows by (date, symbol, raw position) as JSON-friendly dicts.

    A row stored under another session than its (received) date also names
    that session as ``"session"``.
    """
    if limit <= 0 or rows.height == 0:
        return []
    keep = [c for c in (*PRICE_COLUMNS, "reasons", "status", *extra) if c in rows.columns]
    order = [c for c in _SORT if c in rows.columns]
    head = rows.sort(order, nulls_last=True).head(limit)
    renamed = {ROW: "row", JUMP_REFERENCE: "jump_reference", LOG_JUMP: "log_jump"}
    columns = [c for c in (ROW, *keep) if c in head.columns]
    sessions = head[SESSION].to_list() if SESSION in head.columns else [None] * head.height
    examples = []
    for row, session in zip(head.select(columns).to_dicts(), sessions, strict=True):
        example = {renamed.get(k, k): json_value(v) for k, v in row.items()}
        if session is not None and session != row.get("date"):
            example["session"] = json_value(session)
        examples.append(example)
    return examples


def count_per_session(rows: pl.DataFrame) -> dict[str, int]:
    """Rows per ISO session date (``"null"`` for rows without one), sorted by date.

    The session of a row is the one storing it (:data:`SESSION`) when known,
    else its ``date``.
    """
    counts = stored_dates(rows).group_by("date").len().sort("date", nulls_last=True)
    return {json_value(d) or "null": int(n) for d, n in counts.iter_rows()}


def stored_dates(rows: pl.DataFrame) -> pl.DataFrame:
    """The session storing each row as a ``date`` column: :data:`SESSION` when known, else ``date``."""
    return rows.select((pl.col(SESSION) if SESSION in rows.columns else pl.col("date")).alias("date"))


def json_value(value: Any) -> Any:
    """A JSON-friendly value: ISO dates, non-finite floats as strings."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
