"""Compute a feature panel in stages: whole-panel loops, per-chunk kernels, calendar, cross-section.

The panel is laid out as time-major matrices (:mod:`._frame`) and processed
in chunks of symbols, so temporaries stay small and cache-resident whatever
the panel size; every per-symbol feature is a NumPy kernel on a chunk
(:mod:`.chunk`), recursions run per chunk (:mod:`.recursive`).  Each result
goes straight to its float64 output column, and only the requested output
rows (``output_dates``) are ever stored.  Rows before a feature's ``warmup``
are nulled explicitly, and every non-finite value becomes null.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import date

import numpy as np
import polars as pl

from market_assets.quant.indicators._frame import Panel, prepare
from market_assets.quant.indicators.chunk import Chunk
from market_assets.quant.indicators.recursive import run_recursions
from market_assets.quant.indicators.registry import FeatureSpec, resolve, with_dependencies

CHUNK_CELLS = 1 << 18  # sessions × symbols per chunk: ~2 MB per intermediate matrix
Writer = Callable[[np.ndarray, np.ndarray, int], None]


def _chunk_bounds(panel: Panel) -> list[tuple[int, int]]:
    n_t, n_sym = panel.shape
    width = max(1, CHUNK_CELLS // max(n_t, 1))
    return [(s0, min(s0 + width, n_sym)) for s0 in range(0, n_sym, width)]


def _writer(panel: Panel, s0: int, s1: int) -> Writer:
    """``write(column, block, warmup)``: a chunk's matrix into its output rows, warm-up rows null."""
    n_sym = panel.shape[1]
    if panel.balanced:
        t_sel = panel.out_pos[::n_sym] if n_sym else panel.out_pos
        every = len(t_sel) == panel.shape[0]

        def write(column: np.ndarray, block: np.ndarray, warmup: int) -> None:
            view = column.reshape(len(t_sel), n_sym)[:, s0:s1]
            view[...] = block if every else block[t_sel]
            view[: np.searchsorted(t_sel, warmup)] = np.nan
        return write
    rows = np.flatnonzero((panel.out_sym >= s0) & (panel.out_sym < s1))
    pos, sym = panel.out_pos[rows], panel.out_sym[rows] - s0

    def write_ragged(column: np.ndarray, block: np.ndarray, warmup: int) -> None:
        values = block[pos, sym]
        values[pos < warmup] = np.nan
        column[rows] = values
    return write_ragged


def _whole_panel(panel: Panel, specs: list[FeatureSpec]) -> dict[str, np.ndarray]:
    """``matrix`` specs on the whole panel, back as time-major matrices."""
    out = {}
    for spec in specs:
        inputs, fn = spec.matrix  # type: ignore[misc]
        out[spec.name] = fn(*[panel.base[name].T for name in inputs]).T
    return out


def _per_symbol(panel: Panel, specs: list[FeatureSpec]) -> dict[str, np.ndarray]:
    """Every kernel / matrix feature as a float64 column over the output rows."""
    columns = {s.name: np.empty(len(panel.out_pos)) for s in specs}
    whole = _whole_panel(panel, [s for s in specs if s.matrix is not None])
    recursions = [r for s in specs for r in s.recursions]
    for s0, s1 in _chunk_bounds(panel):
        chunk = Chunk({name: np.ascontiguousarray(m[:, s0:s1]) for name, m in panel.base.items()})
        for name, matrix in whole.items():
            chunk.put(name, matrix[:, s0:s1])
        run_recursions(chunk, recursions)
        write = _writer(panel, s0, s1)
        for spec in specs:
            block = chunk[spec.name] if spec.matrix is not None else spec.kernel(chunk)  # type: ignore[misc]
            write(columns[spec.name], block, spec.warmup)
        del chunk
    for column in columns.values():
        column[np.isinf(column)] = np.nan
    return columns


def _day_rank(panel: Panel) -> np.ndarray:
    """Index of each output row's date among the output dates."""
    if not len(panel.out_day):
        return panel.out_day
    return np.concatenate(([0], np.cumsum(np.diff(panel.out_day) != 0)))


def _cross_section(panel: Panel, columns: dict[str, np.ndarray], specs: list[FeatureSpec]) -> dict[str, np.ndarray]:
    """Per-date features on the ``(dates × symbols)`` grid of their dependency."""
    n_sym = panel.shape[1]
    out = {}
    rank = None if panel.balanced else _day_rank(panel)
    for spec in specs:
        values = columns[spec.depends[0]]
        if rank is None:
            out[spec.name] = spec.cross_section(values.reshape(-1, n_sym)).reshape(-1)  # type: ignore[misc]
            continue
        grid = np.full((int(rank[-1]) + 1 if len(rank) else 0, n_sym), np.nan)
        grid[rank, panel.out_sym] = values
        out[spec.name] = spec.cross_section(grid)[rank, panel.out_sym]  # type: ignore[misc]
    return out


def _calendar(panel: Panel, specs: list[FeatureSpec]) -> dict[str, np.ndarray]:
    """Calendar features computed once per distinct date, then spread over the output rows."""
    if not specs:
        return {}
    dates = pl.DataFrame({"date": pl.Series(panel.days, dtype=pl.Int32).cast(pl.Date)})
    table = dates.select(s.expr().cast(pl.Float64).alias(s.name) for s in specs)  # type: ignore[misc]
    return {s.name: table[s.name].to_numpy()[panel.out_day] for s in specs}


def _assemble(panel: Panel, columns: dict[str, np.ndarray]) -> pl.DataFrame:
    keys = [pl.Series("date", panel.days[panel.out_day], dtype=pl.Int32).cast(pl.Date),
            panel.symbols.gather(panel.out_sym).alias("symbol")]
    return pl.DataFrame(keys + [pl.Series(name, col, nan_to_null=True) for name, col in columns.items()])


def compute_panel(prices: pl.DataFrame, registry: dict[str, FeatureSpec], features: Sequence[str] | None = None,
                  output_dates: Collection[date] | None = None) -> pl.DataFrame:
    """See :func:`market_assets.quant.features.compute_features`."""
    wanted = resolve(registry, features)
    specs = [registry[n] for n in with_dependencies(registry, wanted)]
    panel = prepare(prices, output_dates)
    with np.errstate(all="ignore"):
        columns = _per_symbol(panel, [s for s in specs if s.kernel is not None or s.matrix is not None])
        columns |= _calendar(panel, [s for s in specs if s.expr is not None])
        columns |= _cross_section(panel, columns, [s for s in specs if s.cross_section is not None])
    return _assemble(panel, {n: columns[n] for n in wanted})
