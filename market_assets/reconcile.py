"""Find (and record) partition files that the Dagster instance does not know about.

A partition file can exist without a materialization event: a write that
finished just before its run was killed, a disk restored from a backup, files
copied in from another deployment.  The UI then shows the partition as missing
although downstream assets read it.  The reverse also happens: an event whose
file was deleted.  This command lists both, per Parquet asset::

    python -m market_assets.reconcile                     # report (the default)
    python -m market_assets.reconcile --asset raw_prices  # one asset
    python -m market_assets.reconcile --record            # report, then record the files

``--record`` reports each file without an event to the instance as an
:class:`dagster.AssetMaterialization` of its partition, tagged
``market_assets/reconciled=true``, with the file's path and row count (read
from the Parquet footer; the data is not read or changed).  Events whose file
is missing are only reported: re-materialize those partitions.  A file whose
name is not a partition key of its asset (``2024-01-06.parquet`` of a
session-partitioned asset) is reported and never recorded.

The instance is ``$DAGSTER_HOME`` (``make`` uses ``var/dagster_home``); the
data root is the code location's ``parquet_io_manager`` root (settings:
``MARKET_ASSETS_DATA_ROOT``) unless ``--data-root`` says otherwise.  The exit
status is 0 when nothing is left to reconcile, 1 otherwise, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TextIO

import dagster as dg
from upath import UPath

from market_assets.defs.io_manager import PartitionedParquetIOManager

RECONCILED_TAG = "market_assets/reconciled"
IO_MANAGER_KEY = "parquet_io_manager"
Kind = Literal["file_without_event", "event_without_file", "not_a_partition"]
_SHOWN: dict[str, str] = {
    "file_without_event": "file without a materialization",
    "event_without_file": "materialization without a file",
    "not_a_partition": "file not named after a partition key",
}


@dataclass(frozen=True)
class Discrepancy:
    """One partition where the files and the instance disagree.

    ``partition`` is None for an unpartitioned asset; ``path`` is the file
    found, or the file the IO manager expected for ``event_without_file``.
    """

    asset: dg.AssetKey
    partition: str | None
    kind: Kind
    path: str

    def __str__(self) -> str:
        where = "expected at" if self.kind == "event_without_file" else "at"
        return f"{self.asset.to_user_string()}  {self.partition or '(unpartitioned)'}  {_SHOWN[self.kind]}  {where} {self.path}"


def parquet_assets(defs: dg.Definitions) -> dict[dg.AssetKey, dg.PartitionsDefinition | None]:
    """The assets stored by ``parquet_io_manager`` in ``defs``, with their partitions definitions."""
    graph = defs.resolve_asset_graph()
    found: dict[dg.AssetKey, dg.PartitionsDefinition | None] = {}
    for key in graph.get_all_asset_keys():
        if not graph.has(key) or not graph.get(key).is_materializable:
            continue
        assets_def = graph.assets_def_for_key(key)
        if assets_def.get_io_manager_key_for_asset_key(key) == IO_MANAGER_KEY:
            found[key] = graph.get(key).partitions_def
    return dict(sorted(found.items(), key=lambda item: item[0].to_user_string()))


def find_discrepancies(
    instance: dg.DagsterInstance,
    store: PartitionedParquetIOManager,
    assets: Mapping[dg.AssetKey, dg.PartitionsDefinition | None],
) -> list[Discrepancy]:
    """Files without a materialization, materializations without a file, misnamed files.

    Parameters
    ----------
    instance
        The Dagster instance whose event log is compared.
    store
        The IO manager whose layout (``{root}/{asset}/{partition}.parquet``) is read.
    assets
        Asset key -> partitions definition (None: unpartitioned).

    Returns
    -------
    list[Discrepancy]
        Sorted by asset, then partition.
    """
    found: list[Discrepancy] = []
    for key, partitions_def in assets.items():
        if partitions_def is None:
            found += _unpartitioned(instance, store, key)
        else:
            found += _partitioned(instance, store, key, partitions_def)
    return sorted(found, key=lambda d: (d.asset.to_user_string(), d.partition or "", d.kind))


def _partitioned(
    instance: dg.DagsterInstance, store: PartitionedParquetIOManager, key: dg.AssetKey,
    partitions_def: dg.PartitionsDefinition,
) -> list[Discrepancy]:
    directory = store._asset_dir(key)  # the IO manager's layout, not a copy of it
    files = {path.stem: path for path in directory.glob("*.parquet")} if directory.exists() else {}
    events = instance.get_materialized_partitions(key)
    valid = set(partitions_def.get_partition_keys())
    found = [
        Discrepancy(key, name, "file_without_event" if name in valid else "not_a_partition", str(path))
        for name, path in files.items()
        if name not in events
    ]
    found += [
        Discrepancy(key, name, "event_without_file", str(store._path(key, name)))
        for name in events
        if name not in files
    ]
    return found


def _unpartitioned(
    instance: dg.DagsterInstance, store: PartitionedParquetIOManager, key: dg.AssetKey
) -> list[Discrepancy]:
    path = store._asset_dir(key).with_suffix(".parquet")
    has_event = instance.get_latest_materialization_event(key) is not None
    if path.exists() and not has_event:
        return [Discrepancy(key, None, "file_without_event", str(path))]
    if has_event and not path.exists():
        return [Discrepancy(key, None, "event_without_file", str(path))]
    return []


def record(instance: dg.DagsterInstance, discrepancies: Iterable[Discrepancy]) -> list[Discrepancy]:
    """Report each file without an event as a materialization of its partition; return those recorded.

    Each event is tagged :data:`RECONCILED_TAG` ``= "true"`` and carries the
    file's path and its row count from the Parquet footer.
    """
    recorded = []
    for item in discrepancies:
        if item.kind != "file_without_event":
            continue
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=item.asset,
                partition=item.partition,
                description="Recorded by market_assets.reconcile: the file existed without a "
                "materialization event (a write that finished before its run died, or a file copied in).",
                metadata={"path": dg.MetadataValue.path(item.path), "dagster/row_count": _row_count(item.path)},
                tags={RECONCILED_TAG: "true"},
            )
        )
        recorded.append(item)
    return recorded


def _row_count(path: str) -> int:
    import pyarrow.parquet as pq

    with UPath(path).open("rb") as handle:
        return pq.ParquetFile(handle).metadata.num_rows


def summary(discrepancies: Sequence[Discrepancy], n_assets: int, root: str) -> str:
    """One line counting each kind of discrepancy."""
    counts = {kind: sum(d.kind == kind for d in discrepancies) for kind in _SHOWN}
    return (
        f"{counts['file_without_event']} file(s) without a materialization, "
        f"{counts['event_without_file']} materialization(s) without a file, "
        f"{counts['not_a_partition']} file(s) not named after a partition key "
        f"({n_assets} asset(s) checked under {root})"
    )


def main(
    argv: Sequence[str] | None = None,
    *,
    instance: dg.DagsterInstance | None = None,
    defs: dg.Definitions | None = None,
    out: TextIO | None = None,
) -> int:
    """The command line (see the module docstring); ``instance`` and ``defs`` are injectable for tests."""
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    if defs is None:
        from market_assets.definitions import defs
    assets = parquet_assets(defs)
    if args.asset:
        key = dg.AssetKey.from_user_string(args.asset)
        if key not in assets:
            known = ", ".join(k.to_user_string() for k in assets)
            print(f"reconcile: --asset {args.asset!r} is not an asset stored as Parquet partitions; "
                  f"expected one of: {known}", file=sys.stderr)
            return 2
        assets = {key: assets[key]}
    store = _store(defs, args.data_root)
    if instance is None:
        try:
            instance = dg.DagsterInstance.get()
        except dg.DagsterError as error:  # $DAGSTER_HOME unset or not a directory
            first_line = str(error).strip().splitlines()[0]
            print(f"reconcile: no Dagster instance ({first_line}); set DAGSTER_HOME to the instance's "
                  "home (make uses var/dagster_home)", file=sys.stderr)
            return 2
    found = find_discrepancies(instance, store, assets)
    for item in found:
        print(item, file=out)
    print(summary(found, len(assets), store.root), file=out)
    if args.record:
        recorded = record(instance, found)
        print(f"recorded {len(recorded)} materialization(s) tagged {RECONCILED_TAG}=true", file=out)
        found = [d for d in found if d.kind != "file_without_event"]
    if any(d.kind == "event_without_file" for d in found):
        print("materializations without a file: re-materialize those partitions", file=out)
    return 1 if found else 0


def _store(defs: dg.Definitions, data_root: str | None) -> PartitionedParquetIOManager:
    if data_root:
        return PartitionedParquetIOManager(root=data_root)
    store = (defs.resources or {}).get(IO_MANAGER_KEY)
    if not isinstance(store, PartitionedParquetIOManager):
        raise SystemExit(f"reconcile: the definitions have no {IO_MANAGER_KEY} resource; pass --data-root")
    return store


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m market_assets.reconcile",
        description="List Parquet partition files without a materialization in the Dagster instance "
        "(and materializations whose file is missing); with --record, report the files as "
        f"materializations tagged {RECONCILED_TAG}=true.",
    )
    parser.add_argument("--asset", help="only this asset (e.g. raw_prices); default: every Parquet asset")
    parser.add_argument("--data-root", help="the Parquet root; default: the code location's parquet_io_manager root")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--report", action="store_true", help="only list the differences (the default)")
    mode.add_argument("--record", action="store_true", help="list them, then record each file without an event")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
