"""Small helpers that turn frames into metadata a person can read in the UI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
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
    by_partition = {
        partition_key: dict(describe(partition_key, rows))
        for partition_key, rows in partition_frames(frame, sorted(context.partition_keys)).items()
    }
    try:
        step = context.get_step_execution_context()
    except (AttributeError, dg.DagsterInvariantViolationError):  # a directly invoked asset: no step
        step = None
    if step is None or not add_metadata_by_partition(
        step, key or context.assets_def.key, by_partition, targeted=context.partition_keys
    ):
        for partition_key, metadata in by_partition.items():
            context.add_asset_metadata(metadata, asset_key=key, partition_key=partition_key)


def add_metadata_by_partition(
    step: Any, asset_key: dg.AssetKey, by_partition: Mapping[str, Mapping[str, Any]], *, targeted: Collection[str]
) -> bool:
    """``step.add_asset_metadata(metadata, asset_key=, partition_key=)`` for every partition, in one pass.

    Parameters
    ----------
    step
        The ``StepExecutionContext`` of the running step (``context.get_step_execution_context()``
        in an asset, ``context.step_context`` in an IO manager).
    asset_key
        An asset the step materializes.
    by_partition
        Metadata per partition key; each key must be one of the run's partitions.
        Merged over what the partition already holds, as ``add_asset_metadata`` does.
    targeted
        The run's partition keys (``context.partition_keys``, ``context.asset_partition_keys``).

    Returns
    -------
    bool
        False when this Dagster's step context lacks the metadata accumulator of
        Dagster 1.13 (nothing is attached then: use ``add_asset_metadata`` per key).

    Why not ``add_asset_metadata`` per key: in Dagster 1.13 each call re-lists
    every partition key of the run (~5 ms for 2,520 sessions) to validate the one
    given, then copies all metadata the step holds so far, so a call per session
    and asset costs O(sessions) and a 2,520-session range run of three assets
    spent over a minute there.  This validates once and merges once, through the
    same accumulator Dagster reads when it builds each partition's
    materialization (``market_assets_tests/defs/test_io_manager.py`` pins that).
    """
    from dagster._core.execution.context.metadata_logging import AssetMetadataHandle, OutputMetadataAccumulator

    accumulator = getattr(step, "_metadata_accumulator", None)
    if not isinstance(accumulator, OutputMetadataAccumulator):
        return False
    if asset_key not in step.assets_def.keys:
        raise dg.DagsterInvariantViolationError(
            f"cannot attach metadata to {asset_key.to_user_string()}: the step materializes "
            f"{sorted(k.to_user_string() for k in step.assets_def.keys)}"
        )
    outside = sorted(set(by_partition) - set(targeted))
    if outside:
        raise dg.DagsterInvariantViolationError(
            f"cannot attach metadata to partition(s) {outside[:5]} of {asset_key.to_user_string()}: "
            f"the run targets {len(targeted):,} other partition(s)"
        )
    merged = dict(accumulator.per_output_metadata)
    for partition_key, metadata in by_partition.items():
        handle = AssetMetadataHandle(asset_key=asset_key, partition_key=partition_key)
        merged[handle] = {**merged.get(handle, {}), **metadata}
    step._metadata_accumulator = OutputMetadataAccumulator(per_output_metadata=merged)  # noqa: SLF001
    return True
