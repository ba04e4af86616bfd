"""A partition-aware Parquet IO manager on polars.

Layout: ``{root}/{asset key path}/{partition key}.parquet``, one file per
partition, so a single-run backfill over a range writes each session's file
and a nightly run rewrites only its own.  ``root`` is a local path or any
UPath URL (``s3://…``, ``gs://…``, ``memory://…``): local files are written to
a temporary name and renamed (a crash never leaves half a partition); object
stores put whole objects, which is atomic on their side.

An input may declare ``metadata={"lookback_partitions": N}``: the first ``N``
keys of its (sorted) window are history that may be missing, e.g. before the
first partition a user materialized; likewise ``"lookahead_partitions": M``
for the last ``M`` keys (sessions that may not have closed yet: the asset
decides what that means).  Any other missing partition is an error that names
the partition and the file expected.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import uuid
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field
from upath import UPath

from market_assets.files import is_local as _is_local
from market_assets.files import read_parquet as _read_parquet

PARTITION_COLUMN = "date"


class PartitionedParquetIOManager(dg.ConfigurableIOManager):
    """Stores polars frames as one Parquet file per daily partition."""

    root: str = Field(
        description="Where partitions live: a local directory or a UPath URL such as s3://bucket/prefix."
    )

    def _asset_dir(self, asset_key: dg.AssetKey) -> UPath:
        return UPath(self.root).joinpath(*asset_key.path)

    def _path(self, asset_key: dg.AssetKey, partition_key: str) -> UPath:
        return self._asset_dir(asset_key) / f"{partition_key}.parquet"

    # ---- writing -------------------------------------------------------
    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame) -> None:
        if not isinstance(obj, pl.DataFrame):
            raise TypeError(
                f"{context.asset_key.to_user_string()}: expected a polars DataFrame, "
                f"got {type(obj).__name__}"
            )
        if not context.has_asset_partitions:
            path = self._asset_dir(context.asset_key).with_suffix(".parquet")
            _write_parquet(obj, path)
            _add_frame_metadata(context, obj, str(path), partitions=0)
            return
        keys = sorted(context.asset_partition_keys)
        by_key = _split_by_partition(obj, keys, context.asset_key.to_user_string())
        per_partition = _partition_metadata_sink(context)
        directory = self._asset_dir(context.asset_key)
        _prepare_directory(directory, [f"{key}.parquet" for key in keys])  # once, not per file
        written: dict[str, dict[str, object]] = {}
        for key in keys:
            part, path = by_key.get(key, obj.clear()), directory / f"{key}.parquet"
            _write_parquet(part, path, prepared=True)
            written[key] = {"dagster/row_count": part.height, "path": dg.MetadataValue.path(str(path))}
        if per_partition is not None:
            per_partition(written)
        context.log.info(
            f"wrote {obj.height:,} rows of {context.asset_key.to_user_string()} "
            f"into {len(keys):,} partition file(s) under {self._asset_dir(context.asset_key)}"
        )
        _add_frame_metadata(context, obj, str(self._asset_dir(context.asset_key)), len(keys),
                            row_count=per_partition is None)

    # ---- reading -------------------------------------------------------
    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        asset_key = context.asset_key
        if not context.has_asset_partitions:
            return _read_parquet(self._asset_dir(asset_key).with_suffix(".parquet"))
        keys = sorted(context.asset_partition_keys)
        if not keys:
            raise ValueError(_empty_window_message(context))
        metadata = context.definition_metadata or {}
        lookback = int(metadata.get("lookback_partitions", 0))
        lookahead = int(metadata.get("lookahead_partitions", 0))
        optional = keys[:lookback] + keys[max(len(keys) - lookahead, lookback):]
        frame, missing = self.read_partitions(asset_key, keys, optional=optional)
        holes = window_holes(keys, missing)
        if holes:
            raise FileNotFoundError(
                f"{len(holes)} partition(s) of {asset_key.to_user_string()} inside "
                f"the window {keys[0]} … {keys[-1]} are not materialized ({', '.join(holes[:10])}"
                f"{' …' if len(holes) > 10 else ''}) while sessions before and after them are: a hole in "
                "history would silently change every windowed value (a 1-session return would span two). "
                "Materialize or backfill them first; only history before the first stored session may be absent."
            )
        if missing:
            context.log.warning(
                f"{len(missing)} optional partition(s) of {asset_key.to_user_string()} "
                f"(history or not yet closed) are not materialized ({missing[0]} … {missing[-1]})"
            )
        return frame

    def read_partitions(
        self, asset_key: dg.AssetKey, keys: list[str], optional: list[str] | None = None
    ) -> tuple[pl.DataFrame, list[str]]:
        """Concatenate the stored partitions ``keys``; return (frame, missing optional keys).

        A missing key not in ``optional`` raises :class:`FileNotFoundError`
        naming the partition and the file expected.
        """
        allowed = set(optional or ())
        present, missing = [], []
        directory = self._asset_dir(asset_key)
        for key in keys:
            path = directory / f"{key}.parquet"
            if path.exists():
                present.append(path)
            elif key in allowed:
                missing.append(key)
            else:
                raise FileNotFoundError(
                    f"{asset_key.to_user_string()} partition {key} has not been materialized "
                    f"(expected {path}); materialize or backfill it first"
                )
        if not present:
            raise FileNotFoundError(
                f"no partition of {asset_key.to_user_string()} among {keys[:1]}…{keys[-1:]} "
                "has been materialized"
            )
        try:
            if all(_is_local(path) for path in present):  # one parallel scan over every file
                try:
                    return pl.scan_parquet([str(path) for path in present]).collect(), missing
                except pl.exceptions.SchemaError:
                    pass  # files written before a column was added (e.g. raw_prices' received_date): below
            # One file at a time; a column missing from older files is null there.
            return pl.concat([_read_parquet(path) for path in present], how="diagonal_relaxed"), missing
        except (pl.exceptions.PolarsError, OSError) as error:
            raise _unreadable(asset_key, present, error) from error


def _empty_window_message(context: dg.InputContext) -> str:
    """Why an input holds no partition: a reversed range names both keys."""
    from market_assets.defs.partitions import partition_dates

    try:
        window = context.asset_partition_key_range
        start, end = window.start, window.end
    except Exception:  # noqa: BLE001 - no range on this context: the run's own tags tell
        start = end = None
    if start and end and start > end:
        return (f"{context.asset_key.to_user_string()}: the partition range is reversed: start {start} is after "
                f"end {end}, so it holds no session; give the earlier key first (--partition-range {end}...{start})")
    try:
        partition_dates([])
    except ValueError as error:
        return f"{context.asset_key.to_user_string()}: {error}"
    return f"{context.asset_key.to_user_string()}: the run targets no partition"


def window_holes(keys: list[str], missing: list[str]) -> list[str]:
    """Missing keys of a sorted window that lie between two stored ones.

    History before the first stored partition may be absent (nothing was ever
    materialized there), and so may the last keys of a window that reaches
    past what has closed; a gap in between is a hole.
    """
    absent = set(missing)
    stored = [i for i, key in enumerate(keys) if key not in absent]
    if not stored:
        return []
    return [key for key in keys[stored[0] : stored[-1] + 1] if key in absent]


def _unreadable(asset_key: dg.AssetKey, paths: list[UPath], error: Exception) -> Exception:
    """An error naming the partition file that cannot be read (the scan names none)."""
    for path in paths:
        try:
            pl.read_parquet_schema(str(path)) if _is_local(path) else _read_parquet(path)
        except Exception as cause:  # noqa: BLE001 - any failure to read identifies the file
            return ValueError(
                f"{asset_key.to_user_string()} partition {path.stem} cannot be read ({path}): {cause}. "
                "The file is corrupt or not Parquet: re-materialize that partition."
            )
    return ValueError(f"{asset_key.to_user_string()}: reading {len(paths)} partition file(s) failed: {error}")

def _split_by_partition(
    frame: pl.DataFrame, keys: list[str], asset: str
) -> dict[str, pl.DataFrame]:
    """Split ``frame`` by its ``date`` column into the partitions ``keys``."""
    if PARTITION_COLUMN not in frame.columns:
        raise ValueError(
            f"{asset}: a partitioned output needs a {PARTITION_COLUMN!r} column; "
            f"got columns {frame.columns}"
        )
    parts = {
        key[0].isoformat() if isinstance(key[0], dt.date) else str(key[0]): part
        for key, part in frame.partition_by(PARTITION_COLUMN, as_dict=True).items()
    }
    outside = sorted(set(parts) - set(keys))
    if outside:
        raise ValueError(
            f"{asset}: rows dated {outside[:5]} fall outside the partitions being written "
            f"({keys[0]}…{keys[-1]}); an asset may only return rows of its own partitions"
        )
    return parts


#: A temporary file of a partition older than this is a leftover of a killed or failed write.
STALE_TEMPORARY_SECONDS = 3600


def _write_parquet(frame: pl.DataFrame, path: UPath, *, prepared: bool = False) -> None:
    """Write ``frame`` to ``path`` atomically; ``prepared``: :func:`_prepare_directory` already ran for it."""
    if not prepared:
        _prepare_directory(path.parent, [path.name])
    if _is_local(path):
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            frame.write_parquet(str(tmp), statistics=True)
            os.replace(str(tmp), str(path))
        except OSError as error:
            Path(str(tmp)).unlink(missing_ok=True)
            raise OSError(
                error.errno, f"writing partition {path.stem} to {path} failed: {error.strerror or error} "
                "(the previous file, if any, is unchanged)"
            ) from error
    else:
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        with path.open("wb") as handle:
            handle.write(buffer.getvalue())


def _prepare_directory(directory: UPath, names: list[str]) -> None:
    """Create ``directory``; on local disk, delete temporaries of the files ``names`` left by writes
    that never finished (one listing of the directory for all of them: a range run writes thousands)."""
    directory.mkdir(parents=True, exist_ok=True)
    if not _is_local(directory):
        return
    import time

    wanted = set(names)
    cutoff = time.time() - STALE_TEMPORARY_SECONDS
    for leftover in Path(str(directory)).glob(".*.tmp"):
        target = leftover.name[1:].rsplit(".", 2)[0]  # ".{name}.{uuid}.tmp" -> name
        try:
            if target in wanted and leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except OSError:  # removed concurrently, or not ours to remove: leave it
            pass


def _partition_metadata_sink(context: dg.OutputContext):
    """A function attaching metadata to partitions of the output, or None outside a run.

    Output metadata lands on every partition of a range run, so row counts and
    paths, which differ by session, go through the step's per-partition
    asset metadata instead (one pass for all partitions: see
    :func:`market_assets.defs.metadata.add_metadata_by_partition`).
    """
    from market_assets.defs.metadata import add_metadata_by_partition

    try:
        step = context.step_context
    except dg.DagsterInvariantViolationError:  # build_output_context() in unit tests
        return None
    targeted = context.asset_partition_keys

    def add(by_partition: dict[str, dict[str, object]]) -> None:
        if not add_metadata_by_partition(step, context.asset_key, by_partition, targeted=targeted):
            for partition_key, metadata in by_partition.items():
                step.add_asset_metadata(metadata, asset_key=context.asset_key, partition_key=partition_key)

    return add


def _add_frame_metadata(
    context: dg.OutputContext, frame: pl.DataFrame, location: str, partitions: int, *, row_count: bool = True
) -> None:
    """What is true of every partition written: the schema with column descriptions.

    The schema is left out when the asset's definition declares exactly it
    (:func:`market_assets.defs.columns.declared_column_schema`): the UI shows
    the declared one, and a range run does not write it into every session's event.
    """
    from market_assets.defs.columns import column_description, table_schema

    undocumented = [name for name in frame.columns if column_description(name) is None]
    if undocumented:
        context.log.warning(
            f"{context.asset_key.to_user_string()}: column(s) {undocumented} have no description; "
            "add them to market_assets/defs/columns.py"
        )
    metadata: dict[str, object] = {}
    written = table_schema(frame.schema)
    declared = (context.definition_metadata or {}).get("dagster/column_schema")
    if declared is None or getattr(declared, "value", declared) != written:
        metadata["dagster/column_schema"] = written  # what the definition does not already say
    if row_count:
        metadata["dagster/row_count"] = frame.height
        metadata["path"] = dg.MetadataValue.path(location)
    if not partitions:
        metadata["path"] = dg.MetadataValue.path(location)
    if metadata:
        context.add_output_metadata(metadata)
