"""Output rows: where chunk results land, per-date stages and the final frame (internal).

The output is sorted by ``(date, symbol)`` and holds only the rows of the
requested output dates (:class:`._frame.Panel` ``out_*`` arrays).  Every
column is a float64 array on plain pre-mapped pages (:mod:`.memory`), written
once, chunk by chunk, and handed to polars without a copy; NaN becomes null.
"""

from __future__ import annotations

from concurrent.futures import Executor
from functools import partial

import numpy as np
import polars as pl

from market_assets.quant.indicators._frame import Panel
from market_assets.quant.indicators.memory import plain_empty
from market_assets.quant.indicators.registry import FeatureSpec

DATE_BLOCK_CELLS = 1 << 17  # dates × symbols per cross-sectional pass: temporaries stay small


class ChunkRows:
    """The output rows of the symbols ``[s0, s1)``.

    ``first_pos`` is the smallest session position among them (the number of
    sessions if none): rows before ``first_pos - lookback`` cannot influence
    a windowed feature's output.
    """

    def __init__(self, panel: Panel, s0: int, s1: int) -> None:
        n_t, n_sym = panel.shape
        self.s0, self.s1, self.n_sym, self.balanced = s0, s1, n_sym, panel.balanced
        if panel.balanced:
            self.t_sel = panel.out_pos[::n_sym] if n_sym else panel.out_pos
            self.every = len(self.t_sel) == n_t
            self.first_pos = int(self.t_sel[0]) if len(self.t_sel) else n_t
            return
        self.rows = np.flatnonzero((panel.out_sym >= s0) & (panel.out_sym < s1))
        self.pos, self.sym = panel.out_pos[self.rows], panel.out_sym[self.rows] - s0
        self.first_pos = int(self.pos.min()) if len(self.pos) else n_t

    def write(self, column: np.ndarray, block: np.ndarray, warmup: int, start: int = 0) -> None:
        """Store ``block`` (the chunk's sessions ``start..``) in ``column``; warm-up rows and ±inf become NaN."""
        if np.isinf(block).any():
            block = np.where(np.isinf(block), np.nan, block)
        if not self.balanced:
            values = block[self.pos - start, self.sym]
            values[self.pos < warmup] = np.nan
            column[self.rows] = values
            return
        view = column.reshape(len(self.t_sel), self.n_sym)[:, self.s0:self.s1]
        view[...] = block if self.every and not start else block[self.t_sel - start]
        view[: np.searchsorted(self.t_sel, warmup)] = np.nan


def _day_rank(panel: Panel) -> np.ndarray:
    """Index of each output row's date among the output dates."""
    if not len(panel.out_day):
        return panel.out_day
    return np.concatenate(([0], np.cumsum(np.diff(panel.out_day) != 0)))


def _cross_section_block(panel: Panel, columns: dict[str, np.ndarray], specs: list[FeatureSpec],
                         out: dict[str, np.ndarray], rank: np.ndarray, d0: int, d1: int) -> None:
    n_sym = panel.shape[1]
    with np.errstate(all="ignore"):
        if panel.balanced:
            rows = slice(d0 * n_sym, d1 * n_sym)
            for spec in specs:
                grid = columns[spec.depends[0]][rows].reshape(d1 - d0, n_sym)
                out[spec.name][rows] = spec.cross_section(grid).reshape(-1)  # type: ignore[misc]
            return
        lo, hi = np.searchsorted(rank, [d0, d1])
        cells = (rank[lo:hi] - d0, panel.out_sym[lo:hi])
        for spec in specs:
            grid = np.full((d1 - d0, n_sym), np.nan)
            grid[cells] = columns[spec.depends[0]][lo:hi]
            out[spec.name][lo:hi] = spec.cross_section(grid)[cells]  # type: ignore[misc]


def cross_section(panel: Panel, columns: dict[str, np.ndarray], specs: list[FeatureSpec],
                  pool: Executor | None = None) -> dict[str, np.ndarray]:
    """Per-date features on the ``(dates × symbols)`` grid of their dependency, a block of dates at a time.

    Each date is computed from its own row of the grid only, so restricting
    the output dates never changes a value.  Blocks run on ``pool`` if given.
    """
    rank = _day_rank(panel)
    n_days = int(rank[-1]) + 1 if len(rank) else 0
    out = {s.name: plain_empty(len(rank)) for s in specs}
    if not specs:
        return out
    step = max(1, DATE_BLOCK_CELLS // max(panel.shape[1], 1))
    blocks = [(d0, min(d0 + step, n_days)) for d0 in range(0, n_days, step)]
    run = partial(_cross_section_block, panel, columns, specs, out, rank)
    list((pool.map if pool is not None else map)(lambda block: run(*block), blocks))
    return out


def calendar(panel: Panel, specs: list[FeatureSpec]) -> dict[str, np.ndarray]:
    """Calendar features computed once per distinct date, then spread over the output rows."""
    if not specs:
        return {}
    dates = pl.DataFrame({"date": pl.Series(panel.days, dtype=pl.Int32).cast(pl.Date)})
    table = dates.select(s.expr().cast(pl.Float64).alias(s.name) for s in specs)  # type: ignore[misc]
    return {s.name: np.take(table[s.name].to_numpy(), panel.out_day, out=plain_empty(len(panel.out_day)))
            for s in specs}


def assemble(panel: Panel, columns: dict[str, np.ndarray]) -> pl.DataFrame:
    """``date, symbol`` and the feature columns (NaN as null, no copy of the values)."""
    keys = [pl.Series("date", panel.days[panel.out_day], dtype=pl.Int32).cast(pl.Date),
            panel.symbols.gather(panel.out_sym).alias("symbol")]
    return pl.DataFrame(keys + [pl.Series(name, col, nan_to_null=True) for name, col in columns.items()])
