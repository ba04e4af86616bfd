"""Small helpers that turn frames into metadata a person can read in the UI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import polars as pl


def markdown_table(rows: Sequence[Mapping[str, Any]], limit: int = 10) -> dg.MetadataValue:
    """A markdown table of the first ``limit`` rows (an em dash when empty)."""
    if not rows:
        return dg.MetadataValue.md("—")
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in list(rows)[:limit]:
        lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    if len(rows) > limit:
        lines.append(f"\n… {len(rows) - limit:,} more")
    return dg.MetadataValue.md("\n".join(lines))


def frame_preview(frame: pl.DataFrame, limit: int = 10) -> dg.MetadataValue:
    """A markdown preview of the first ``limit`` rows of ``frame``."""
    return markdown_table(frame.head(limit).to_dicts(), limit)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value).replace("|", "\\|")


def json_safe(value: Any) -> Any:
    """Dates to ISO strings and NaN to None, recursively, for JSON metadata."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
