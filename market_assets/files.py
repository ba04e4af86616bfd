"""Where stored files live (local disk or an fsspec store behind UPath) and reading Parquet from either.

Shared by the Parquet IO manager and the drift reference cache; no Dagster.
"""

from __future__ import annotations

import io

import polars as pl
from upath import UPath


def is_local(path: UPath) -> bool:
    """Whether ``path`` is on local disk (polars reads it directly; renames are atomic there)."""
    return getattr(path, "protocol", "") in ("", "file", "local")


def read_parquet(path: UPath) -> pl.DataFrame:
    """The Parquet file at ``path``: read directly on local disk, through the store's file API elsewhere."""
    if is_local(path):
        return pl.read_parquet(str(path))
    with path.open("rb") as handle:
        return pl.read_parquet(io.BytesIO(handle.read()))
