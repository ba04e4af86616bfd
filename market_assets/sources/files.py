"""Prices from a directory of per-symbol CSV or Parquet files.

One file per symbol, named ``<SYMBOL>.csv`` or ``<SYMBOL>.parquet`` (the
extension in any case, the symbol exactly as
:func:`~market_assets.schema.validate_symbol` accepts it, e.g. ``AAPL.csv``,
``^GSPC.Parquet``), with Yahoo or Stooq columns (see
:mod:`market_assets.sources.tabular`).  Every row carries ``source="files"``.

Paths are never built from a symbol: a symbol is validated, then matched
against the names actually listed in the directory, and the resolved file
must lie inside the resolved directory (a symlink pointing out is refused).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from market_assets.schema import InvalidSymbolError, validate_symbol
from market_assets.sources.base import SourceError
from market_assets.sources.options import SourceOption, SourceOptionError, check_symbols
from market_assets.sources.tabular import concat_sorted, read_csv_text, to_prices

EXTENSIONS = (".csv", ".parquet")


def _list_files(directory: Path) -> dict[str, Path]:
    """Symbol -> file for every ``*.csv`` / ``*.parquet`` in ``directory``."""
    files: dict[str, Path] = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.suffix.lower() not in EXTENSIONS:
            continue
        stem = path.name[: -len(path.suffix)]
        try:
            symbol = validate_symbol(stem)
        except InvalidSymbolError as exc:
            raise ValueError(f"files source: file {path} is not named after a valid symbol: {exc}") from None
        if symbol in files:
            raise ValueError(f"files source: two files for {symbol!r}: {files[symbol].name} and {path.name}; keep one")
        files[symbol] = path
    return files


class FileSource:
    """Per-symbol CSV / Parquet files in one directory.

    Parameters (keyword-only)
    -------------------------
    directory : str or Path
        The directory holding ``<SYMBOL>.csv`` / ``<SYMBOL>.parquet`` files.
    symbols : list of str or None, default None
        The universe; None means every file found.  A symbol without a file
        is an error at construction.
    """

    name = "files"
    OPTIONS: ClassVar[Mapping[str, SourceOption]] = {
        "directory": SourceOption(str, "directory of <SYMBOL>.csv / <SYMBOL>.parquet files on the run's machine"),
        "symbols": SourceOption(list[str], "the universe (every file found by default)"),
    }

    def __init__(self, *, directory: str | Path, symbols: list[str] | None = None) -> None:
        root = Path(directory).expanduser()
        if not root.is_dir():
            raise ValueError(f"files source: directory {str(root)!r} does not exist or is not a directory")
        self.directory = root.resolve()
        available = _list_files(self.directory)
        if symbols is None:
            chosen = sorted(available)
        else:
            chosen = sorted({validate_symbol(s) for s in symbols})
            missing = [s for s in chosen if s not in available]
            if missing:
                raise ValueError(
                    f"files source: no file for symbol(s) {missing} in {str(self.directory)!r} "
                    f"(expected <SYMBOL>.csv or <SYMBOL>.parquet); symbols with files: {sorted(available)}"
                )
        self._files = {s: available[s] for s in chosen}
        for path in self._files.values():
            self._check_inside(path)

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        """Validate options without listing the directory; SourceOptionError naming the option."""
        directory = options.get("directory")
        if directory is not None and (not isinstance(directory, str | Path) or not str(directory).strip()):
            raise SourceOptionError("directory", f"directory={directory!r}: expected a directory path")
        check_symbols(options.get("symbols"))

    def __repr__(self) -> str:
        return f"FileSource(directory={str(self.directory)!r}, symbols={list(self._files)})"

    def _check_inside(self, path: Path) -> Path:
        resolved = path.resolve()
        if not resolved.is_relative_to(self.directory):
            raise SourceError(f"files: {path} resolves to {resolved}, outside {self.directory}; refusing to read it")
        return resolved

    def symbols(self) -> list[str]:
        """The symbols with a file, sorted."""
        return list(self._files)

    def read_symbol(self, symbol: str) -> pl.DataFrame:
        """All rows of one symbol's file, as received, sorted by date."""
        path = self._check_inside(self._files[validate_symbol(symbol)])
        where = f"files: {path}"
        if path.suffix.lower() == ".csv":
            table = read_csv_text(path.read_bytes(), where=where)
        else:
            try:
                table = pl.read_parquet(path)
            except (pl.exceptions.PolarsError, OSError) as exc:
                raise SourceError(f"{where}: unreadable Parquet ({type(exc).__name__}: {exc})") from None
        return to_prices(table, where=where, symbol=symbol, source=self.name)

    def fetch(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """Rows with ``start <= date <= end`` from every symbol's file."""
        frames = [self.read_symbol(s).filter(pl.col("date").is_between(start, end)) for s in self._files]
        return concat_sorted(frames)
