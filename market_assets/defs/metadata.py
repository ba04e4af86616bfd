"""Small helpers that turn frames into metadata a person can read in the UI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
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


def partition_frames(frame: pl.DataFrame, keys: Sequence[str]) -> dict[str, pl.DataFrame]:
    """``frame`` split by its ``date`` column into the partitions ``keys``.

    Every key gets a frame (an empty one when no row carries its date), so a
    session without rows still reports its own zero counts.
    """
    parts = {
        key[0].isoformat(): part for key, part in frame.partition_by("date", as_dict=True).items()
    } if frame.height else {}
    return {key: parts.get(key, frame.clear()) for key in keys}


def add_partition_metadata(
    context: dg.AssetExecutionContext,
    frame: pl.DataFrame,
    describe: Callable[[str, pl.DataFrame], Mapping[str, Any]],
    *,
    asset_key: str | dg.AssetKey | None = None,
) -> None:
    """Attach ``describe(partition_key, rows of that session)`` to each partition of the run.

    In a range run, metadata given to ``dg.Output``/``MaterializeResult`` lands
    on every partition; this gives each session its own numbers instead, so
    numeric keys plot over partitions in the UI.
    """
    key = dg.AssetKey.from_coercible(asset_key) if asset_key is not None else None
    for partition_key, rows in partition_frames(frame, sorted(context.partition_keys)).items():
        context.add_asset_metadata(dict(describe(partition_key, rows)), asset_key=key, partition_key=partition_key)
