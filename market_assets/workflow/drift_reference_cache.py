"""The champion's drift reference, built once per champion and stored beside the data.

:func:`market_assets.workflow.monitoring.champion_reference` scores the
champion on its last ``reference_sessions`` training sessions, sorts every
tested column (the profile) and calibrates the block-to-block variation (six
block drift computations per champion): most of a nightly ``drift_report``.
None of it changes from one evening to the next while the same champion
serves, so :func:`cached_champion_reference` stores it once and reads it back.
The profile (every tested column sorted) is not stored: it is re-sorted from
the reference rows the run has loaded anyway (0.3 s for 500 symbols × 120
sessions × 268 columns, as long as reading it back, and the stored copy would
be as large as those sessions of ``feature_table``: 96 MB).

Layout (no pickle: Parquet + JSON)::

    <root>/drift_reference/<model name>/<version>-<key digest>/
        reference_severity.parquet  column, reference_severity (the block calibration)
        predictions.parquet         date, symbol, prediction
        target.parquet              date, symbol, realized_return
        entry.json                  the key, the sessions, the tested columns (written last: the entry is complete)

Local roots build the entry in a temporary sibling directory and rename it (a
crash never leaves half an entry; two runs building the same entry: the first
rename wins, the other's copy is dropped); object stores write ``entry.json``
last and an entry without it is not read.

What invalidates an entry (each is part of the key digest)
-----------------------------------------------------------
* the model: registered name, champion version, its run id, cut-off
  (``train_end``) and horizon;
* every :class:`~market_assets.workflow.monitoring.DriftSettings` field;
* the reference sessions actually present in the loaded ``feature_table``;
* the stored files of those sessions, of ``feature_table`` and of
  ``validated_prices`` (the target's returns): size and modification time
  (local: ``st_mtime_ns``; object stores: ETag or last-modified).  A
  re-materialized partition is a new file (the IO manager writes a temporary
  file and renames it), hence a new key;
* :data:`FORMAT_VERSION`, a digest of the source of the modules that compute
  the reference (this one, ``workflow/monitoring.py``, ``quant/drift.py``,
  ``quant/drift_stattests.py``, ``quant/performance.py``, ``quant/labels.py``)
  and the polars and numpy versions.

Old entries are not pruned: one directory per champion (and per data change),
about 1 MB for 500 symbols; delete ``<root>/drift_reference`` at will (the next
run rebuilds).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from upath import UPath

from market_assets.files import is_local as _is_local
from market_assets.files import read_parquet
from market_assets.quant.drift import profile_reference
from market_assets.tracking._session import TrackingConfig
from market_assets.tracking.history import ChampionRecord
from market_assets.workflow.monitoring import ChampionReference, DriftSettings, build_reference, reference_rows

#: Bump when the stored layout or the meaning of a stored value changes.
FORMAT_VERSION = 1
CACHE_DIRECTORY = "drift_reference"
#: Assets whose stored partitions (of the reference sessions) the reference is computed from.
SOURCE_ASSETS = ("feature_table", "validated_prices")
_CODE_MODULES = ("workflow/drift_reference_cache.py", "workflow/monitoring.py", "quant/drift.py",
                 "quant/drift_stattests.py", "quant/performance.py", "quant/labels.py")
_FRAMES = ("reference_severity", "predictions", "target")


@dataclass(frozen=True)
class ReferenceOrigin:
    """Where a reference came from: the cache entry read, or a build (and the entry written)."""

    cached: bool
    path: str | None
    seconds: float
    error: str | None = None  #: why a built reference could not be stored (the run goes on without)

    def describe(self) -> str:
        if self.cached:
            return f"reference read from the cache {self.path} ({self.seconds:.1f} s)"
        if self.error:
            return f"reference built in {self.seconds:.1f} s, not cached ({self.error})"
        stored = f", cached at {self.path}" if self.path else " (no cache)"
        return f"reference built in {self.seconds:.1f} s{stored}"


@dataclass(frozen=True)
class ReferenceCache:
    """Champion references under ``<root>/drift_reference``; ``root`` is the IO manager's (local or UPath URL)."""

    root: str

    def entry(self, model_name: str, version: str, key: dict) -> UPath:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
        return UPath(self.root) / CACHE_DIRECTORY / _safe(model_name) / f"{_safe(version)}-{digest}"

    def key(self, champion: ChampionRecord, *, model_name: str, horizon: int, sessions: Sequence[dt.date],
            settings: DriftSettings) -> dict:
        """Everything the reference depends on (module docstring), as JSON-able values."""
        return {
            "format": FORMAT_VERSION, "code": _code_digest(), "polars": pl.__version__, "numpy": np.__version__,
            "model_name": model_name, "version": champion.version, "run_id": champion.run_id,
            "train_end": champion.train_end.isoformat(), "horizon": horizon,
            "settings": dataclasses.asdict(settings),
            "sessions": [s.isoformat() for s in sessions],
            "files": {asset: partition_fingerprint(self.root, asset, sessions) for asset in SOURCE_ASSETS},
        }

    def load(self, path: UPath, champion: ChampionRecord, rows: pl.DataFrame, *, model_name: str,
             horizon: int) -> ChampionReference | None:
        """The stored reference at ``path``, or None when there is none (or it is unreadable)."""
        marker = path / "entry.json"
        try:
            if not marker.exists():
                return None
            entry = json.loads(marker.read_text())
            frames = {name: read_parquet(path / f"{name}.parquet") for name in _FRAMES}
            columns = list(entry["columns"])
            feature_rows = rows.select("date", "symbol", *columns)
        except (OSError, ValueError, KeyError, pl.exceptions.PolarsError):
            return None  # half-deleted or foreign: rebuilt and rewritten
        return ChampionReference(
            champion=champion, model_name=model_name, horizon=horizon,
            first_session=dt.date.fromisoformat(entry["first_session"]),
            last_session=dt.date.fromisoformat(entry["last_session"]),
            features=profile_reference(rows, columns), reference_severity=frames["reference_severity"],
            feature_rows=feature_rows,
            predictions=frames["predictions"], target=frames["target"],
        )

    def store(self, path: UPath, reference: ChampionReference, key: dict) -> None:
        """Write ``reference`` at ``path`` (atomically on a local root; ``entry.json`` last elsewhere)."""
        local = _is_local(path)
        target = UPath(path.parent / f".{path.name}.tmp-{uuid.uuid4().hex}") if local else path
        target.mkdir(parents=True, exist_ok=True)
        try:
            for name in _FRAMES:
                _write(getattr(reference, name), target / f"{name}.parquet")
            entry = {"key": key, "columns": list(reference.features.columns),
                     "first_session": reference.first_session.isoformat(),
                     "last_session": reference.last_session.isoformat(),
                     "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
            (target / "entry.json").write_text(json.dumps(entry, indent=1, default=str))
            if local:
                try:
                    os.rename(str(target), str(path))
                except OSError:
                    if (path / "entry.json").exists():
                        return  # another run stored the same entry first: keep its copy (finally drops ours)
                    shutil.rmtree(str(path), ignore_errors=True)  # an incomplete entry: replaced
                    os.rename(str(target), str(path))
        finally:
            if local and target.exists():
                shutil.rmtree(str(target), ignore_errors=True)


def cached_champion_reference(
    champion: ChampionRecord, *, model_name: str, horizon: int, features: pl.DataFrame, prices: pl.DataFrame,
    calendar: Sequence[dt.date], tracking: TrackingConfig, settings: DriftSettings,
    cache: ReferenceCache | None,
) -> tuple[ChampionReference, ReferenceOrigin]:
    """:func:`~market_assets.workflow.monitoring.champion_reference`, read from ``cache`` when stored there.

    The reference read back equals the one built (Parquet keeps the float64
    values exactly, NaN included; the profile is re-sorted from the same rows);
    ``cache=None`` always builds.  A failure to
    store the entry is reported in the origin, not raised.

    Raises
    ------
    LookupError
        When ``features`` hold no session before the champion's cut-off.
    """
    started = time.perf_counter()
    rows = reference_rows(champion, model_name=model_name, features=features, calendar=calendar, settings=settings)
    path = None
    if cache is not None:
        sessions = rows.get_column("date").unique().sort().to_list()
        key = cache.key(champion, model_name=model_name, horizon=horizon, sessions=sessions, settings=settings)
        path = cache.entry(model_name, champion.version, key)
        stored = cache.load(path, champion, rows, model_name=model_name, horizon=horizon)
        if stored is not None:
            return stored, ReferenceOrigin(True, str(path), time.perf_counter() - started)
    reference = build_reference(champion, rows, model_name=model_name, horizon=horizon, prices=prices,
                                tracking=tracking, settings=settings)
    error = None
    if cache is not None:
        try:
            cache.store(path, reference, key)
        except (OSError, pl.exceptions.PolarsError) as failure:  # e.g. a read-only or full data root
            error, path = f"{type(failure).__name__}: {failure}", None
    return reference, ReferenceOrigin(False, None if path is None else str(path), time.perf_counter() - started,
                                      error)


def partition_fingerprint(root: str, asset: str, sessions: Sequence[dt.date]) -> list[list[object]]:
    """Per session, ``[session, size, modification stamp]`` of ``asset``'s stored file (``None``s: absent)."""
    folder = UPath(root) / asset
    out: list[list[object]] = []
    for session in sessions:
        path = folder / f"{session.isoformat()}.parquet"
        if _is_local(path):
            try:
                stat = os.stat(str(path))
                out.append([session.isoformat(), stat.st_size, stat.st_mtime_ns])
            except FileNotFoundError:
                out.append([session.isoformat(), None, None])
            continue
        try:
            info = path.fs.info(path.path)
        except FileNotFoundError:
            out.append([session.isoformat(), None, None])
            continue
        stamp = next((info[k] for k in ("ETag", "etag", "md5Hash", "mtime", "LastModified", "last_modified",
                                        "updated", "created") if info.get(k) is not None), None)
        out.append([session.isoformat(), info.get("size"), str(stamp)])
    return out


@functools.cache
def _code_digest() -> str:
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for name in _CODE_MODULES:
        digest.update(name.encode())
        digest.update((package / name).read_bytes())
    return digest.hexdigest()[:16]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))


def _write(frame: pl.DataFrame, path: UPath) -> None:
    if _is_local(path):
        frame.write_parquet(str(path))
        return
    import io

    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    path.write_bytes(buffer.getvalue())
