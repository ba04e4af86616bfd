"""Configuration and result types of the price validation.

Every type here is a frozen dataclass holding plain Python values, so a
result can be logged, compared in tests and turned into Dagster check
metadata by the Dagster layer without this package knowing about Dagster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

Severity = Literal["WARN", "ERROR"]


def _describe(text: str) -> dict[str, str]:
    return {"description": text}


@dataclass(frozen=True)
class ValidationConfig:
    """Thresholds of the price validation.

    Raises
    ------
    ValueError
        When a threshold is outside its range, naming the field and the value.
    """

    max_abs_log_jump: float = field(
        default=1.0,
        metadata=_describe(
            "Largest accepted |ln(adj_close / reference)|; 1.0 accepts -63% to +172% "
            "in one session (real crashes such as AAPL's -52% on 2000-09-29 pass, "
            "a 90% one-day drop, ln 0.1 = -2.3, does not)."
        ),
    )
    jump_reference_sessions: int = field(
        default=5,
        metadata=_describe(
            "Number of earlier sessions of a symbol whose median adj_close is the jump "
            "reference; also the lookback the caller passes in front of the target sessions."
        ),
    )
    max_bad_share: float = field(
        default=0.2,
        metadata=_describe(
            "Share of expected (session x universe) cells missing or rejected above "
            "which the batch is not trusted (sessions_are_complete fails with ERROR)."
        ),
    )
    ohlc_rel_tolerance: float = field(
        default=1e-9,
        metadata=_describe(
            "Relative tolerance of the OHLC ordering, as a share of the row's largest "
            "price, so that float rounding by a provider is not a defect."
        ),
    )
    max_examples: int = field(
        default=5,
        metadata=_describe("Failing rows listed per check as examples for the UI."),
    )

    def __post_init__(self) -> None:
        number, integer = _is_number, _is_integer
        rules = (
            ("max_abs_log_jump", number, lambda v: math.isfinite(v) and v > 0, "a finite number > 0"),
            ("jump_reference_sessions", integer, lambda v: v >= 1, "an integer >= 1"),
            ("max_bad_share", number, lambda v: 0 <= v <= 1, "a number in [0, 1]"),
            ("ohlc_rel_tolerance", number, lambda v: 0 <= v <= 0.01, "a number in [0, 0.01]"),
            ("max_examples", integer, lambda v: v >= 0, "an integer >= 0"),
        )
        for name, is_type, in_range, expected in rules:
            value = getattr(self, name)
            if not (is_type(value) and in_range(value)):
                raise ValueError(f"ValidationConfig.{name}={value!r}: expected {expected}")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class RuleOutcome:
    """The result of one check, named as the Dagster asset check that shows it.

    Attributes
    ----------
    check_name
        Predicate name, e.g. ``"ohlc_is_consistent"``.
    description
        One line shown in the UI.
    reason_code
        Reason code(s) written to rejected rows by this check, ``";"``-joined
        like the ``reasons`` column (``keys_are_unique`` has two:
        ``"duplicate_row;duplicate_key_conflict"``); ``None`` for
        ``prices_have_schema``, which rejects no row.
    passed
        True when no row and no cell failed.
    severity
        ``"ERROR"`` blocks downstream assets, ``"WARN"`` does not (see the
        severity policy in :mod:`market_assets.quant.validation`).  Set on
        passing outcomes too: it is the level the check fails at.
    failing_count
        Rows that failed (row rules); missing or rejected (session, symbol)
        cells plus rows dated outside the sessions (``sessions_are_complete``);
        schema problems (``prices_have_schema``).
    observed, expected
        Share of target rows failing vs 0.0 (row rules), share of bad cells vs
        0.0 (``sessions_are_complete``), a short text (schema).
    examples
        Up to ``max_examples`` failing rows or cells as JSON-friendly dicts:
        dates as ISO strings, NaN and infinities as the strings ``"nan"``,
        ``"inf"``, ``"-inf"``, ``"row"`` the position in the raw input.
    per_session
        Failing rows (or cells) per ISO session date, only sessions with
        failures; rows without a date are counted under ``"null"``.
    details
        One line with the counts behind ``passed`` and ``severity``.
    evaluated
        False when the check could not run (the schema check failed).
    """

    check_name: str
    description: str
    reason_code: str | None
    passed: bool
    severity: Severity
    failing_count: int
    observed: float | str
    expected: float | str
    examples: list[dict[str, Any]] = field(default_factory=list)
    per_session: dict[str, int] = field(default_factory=dict)
    details: str = ""
    evaluated: bool = True

    @property
    def reason_codes(self) -> tuple[str, ...]:
        """The reason codes of :attr:`reason_code` as a tuple (empty if none)."""
        return tuple(self.reason_code.split(";")) if self.reason_code else ()

    @property
    def blocks_downstream(self) -> bool:
        """True when the check failed with ERROR severity."""
        return not self.passed and self.severity == "ERROR"


@dataclass(frozen=True)
class ValidationResult:
    """Validated rows, rejected rows and one outcome per check.

    ``len(validated) + len(rejections)`` equals the number of raw rows that
    are not lookback whenever ``prices_have_schema`` passed.
    """

    validated: pl.DataFrame
    rejections: pl.DataFrame
    outcomes: tuple[RuleOutcome, ...]

    @property
    def blocking_failures(self) -> tuple[RuleOutcome, ...]:
        """Outcomes that failed with ERROR severity (empty when trusted)."""
        return tuple(o for o in self.outcomes if o.blocks_downstream)

    def outcome(self, check_name: str) -> RuleOutcome:
        """The outcome of ``check_name``; KeyError naming the known checks."""
        for outcome in self.outcomes:
            if outcome.check_name == check_name:
                return outcome
        known = [o.check_name for o in self.outcomes]
        raise KeyError(f"no check named {check_name!r}; checks are {known}")
