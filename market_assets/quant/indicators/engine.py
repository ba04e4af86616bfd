"""Compute a feature panel in stages: whole-panel loops, per-chunk kernels, calendar, cross-section.

The panel is laid out as time-major matrices (:mod:`._frame`) and processed
in blocks of symbols (recursions, :mod:`.recursive`) split into smaller
chunks (kernels, :mod:`.chunk`), so temporaries stay small and cache-resident
whatever the panel size.  Each result goes straight to its float64 output
column, and only the rows of the requested output dates are stored
(:mod:`.output`).  Rows before a feature's ``warmup`` are nulled
explicitly, and every non-finite value becomes null.

Blocks of symbols (and blocks of dates for the cross-section) run on a pool
of polars' size (``POLARS_MAX_THREADS``): NumPy releases the GIL inside its
loops, every block is computed on its own and written to its own rows, so
the result does not depend on the number of threads or the block sizes.

Output dates and history
------------------------
A windowed feature at session ``t`` reads sessions ``t - warmup .. t`` only
(plus recursion and whole-panel series, always computed over the full
history), and every window kernel evaluates a fixed expression of its
window.  So when the output starts late in the panel (a nightly run over a
long lookback), kernels run only on the sessions from ``first output -
lookback`` on, with bit-identical results; history-dependent features
(cumulative OBV / A/D) still see every session.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import partial

import numpy as np
import polars as pl

from market_assets.quant.indicators import output
from market_assets.quant.indicators._frame import Panel, prepare
from market_assets.quant.indicators.chunk import Chunk, Kernel, usage_plan
from market_assets.quant.indicators.memory import plain_empty
from market_assets.quant.indicators.recursive import Recursion, run_recursions
from market_assets.quant.indicators.registry import FeatureSpec, resolve, with_dependencies

BLOCK_CELLS = 1 << 18  # sessions × symbols per block (a thread's unit of work, recursions): 2 MiB per series
CHUNK_CELLS = 1 << 17  # per kernel chunk: 1 MiB per intermediate, cache-resident


def _bounds(n_t: int, start: int, stop: int, cells: int, multiple: int = 1) -> list[tuple[int, int]]:
    """Consecutive symbol ranges within ``[start, stop)`` of at most ``cells`` matrix cells each.

    Their number is rounded up to a multiple of ``multiple`` (the threads) where
    there are enough symbols, so that the threads get even work.  Series stay
    below numpy's 4 MiB huge-page threshold (see :mod:`.memory`).
    """
    n_sym = stop - start
    count = -(-n_sym * max(n_t, 1) // cells) if n_sym else 0
    count = min(n_sym, -(-count // multiple) * multiple) if count else 0
    width = -(-n_sym // count) if count else 1
    return [(s0, min(s0 + width, stop)) for s0 in range(start, stop, width)]


def _whole_panel(panel: Panel, specs: list[FeatureSpec]) -> dict[str, np.ndarray]:
    """``matrix`` specs on the whole panel, back as time-major matrices."""
    out = {}
    for spec in specs:
        inputs, fn = spec.matrix  # type: ignore[misc]
        out[spec.name] = fn(*[panel.base[name].T for name in inputs]).T
    return out


def _chunk(panel: Panel, series: dict[str, np.ndarray], s0: int, s1: int, rows: slice = slice(None),
           offset: int = 0) -> Chunk:
    """Symbols ``[s0, s1)``, sessions ``rows``; ``series`` (whole-panel / recursion outputs) start at ``offset``."""
    chunk = Chunk({name: np.ascontiguousarray(m[rows, s0:s1]) for name, m in panel.base.items()})
    for name, matrix in series.items():
        chunk.put(name, matrix[rows, s0 - offset:s1 - offset])
    return chunk


def _kernel(spec: FeatureSpec) -> Kernel:
    if spec.matrix is not None:
        return lambda k: k[spec.name]
    return spec.kernel  # type: ignore[return-value]


def _plan(panel: Panel, whole: dict[str, np.ndarray], kernels: list[Kernel],
          recursions: list[Recursion]) -> list[list[object]]:
    """Which memoised intermediates each kernel uses last, from a dry run on a few sessions of one symbol."""
    chunk = _chunk(panel, whole, 0, 1, slice(0, min(panel.shape[0], 8)))
    for rec in recursions:
        chunk.put(rec.name, np.full(chunk.shape, np.nan))
    return usage_plan(chunk, kernels)


def _recursion_block(panel: Panel, whole: dict[str, np.ndarray], recursions: list[Recursion], b0: int, b1: int,
                     scratch: np.ndarray | None) -> dict[str, np.ndarray]:
    """Recursion outputs for symbols ``[b0, b1)``, plus the whole-panel series (columns from ``b0``)."""
    block = _chunk(panel, whole, b0, b1)
    run_recursions(block, recursions, scratch)
    return {name: matrix[:, b0:b1] for name, matrix in whole.items()} | {r.name: block[r.name] for r in recursions}


def _threads() -> int:
    """Worker threads: polars' thread-pool size (``POLARS_MAX_THREADS``), so one setting governs both."""
    return max(1, pl.thread_pool_size())


@dataclass(frozen=True)
class _Work:
    """What every block of symbols reads (shared, read-only) and the output columns it writes into."""

    panel: Panel
    specs: list[FeatureSpec]
    kernels: list[Kernel]
    plan: list[list[object]]
    whole: dict[str, np.ndarray]
    recursions: list[Recursion]
    columns: dict[str, np.ndarray]
    lookback: int
    any_history: bool


def _run_chunk(work: _Work, series: dict[str, np.ndarray], b0: int, s0: int, s1: int) -> None:
    """Every kernel on symbols ``[s0, s1)``, written to the output columns (see module doc for ``start``)."""
    rows = output.ChunkRows(work.panel, s0, s1)
    start = max(0, rows.first_pos - work.lookback)
    chunk = _chunk(work.panel, series, s0, s1, slice(start, None), b0)
    full = _chunk(work.panel, series, s0, s1, offset=b0) if start and work.any_history else chunk
    for spec, kernel, done in zip(work.specs, work.kernels, work.plan):
        history = spec.history_dependent and start
        rows.write(work.columns[spec.name], kernel(full if history else chunk), spec.warmup, 0 if history else start)
        chunk.release(done)


def _run_block(work: _Work, bounds: tuple[int, int]) -> None:
    """Recursions for a block of symbols, then its kernel chunks (one thread, its own NumPy error state)."""
    b0, b1 = bounds
    n_t = work.panel.shape[0]
    with np.errstate(all="ignore"):
        scratch = plain_empty(n_t * len(work.recursions) * (b1 - b0)) if work.recursions else None
        series = _recursion_block(work.panel, work.whole, work.recursions, b0, b1, scratch)
        for s0, s1 in _bounds(n_t, b0, b1, CHUNK_CELLS):
            _run_chunk(work, series, b0, s0, s1)


def _per_symbol(panel: Panel, specs: list[FeatureSpec], pool: ThreadPoolExecutor, threads: int
                ) -> dict[str, np.ndarray]:
    """Every kernel / matrix feature as a float64 column over the output rows (see module doc)."""
    columns = dict(zip([s.name for s in specs], pool.map(lambda _: plain_empty(len(panel.out_pos)), specs)))
    n_t, n_sym = panel.shape
    if not n_sym:
        return columns
    whole = _whole_panel(panel, [s for s in specs if s.matrix is not None])
    kernels = [_kernel(s) for s in specs]
    recursions = list({r.name: r for s in specs for r in s.recursions}.values())
    work = _Work(panel, specs, kernels, _plan(panel, whole, kernels, recursions), whole, recursions, columns,
                 lookback=max((s.warmup for s in specs if not s.history_dependent), default=0),
                 any_history=any(s.history_dependent for s in specs))
    list(pool.map(partial(_run_block, work), _bounds(n_t, 0, n_sym, BLOCK_CELLS, threads)))
    return columns


def compute_panel(prices: pl.DataFrame, registry: dict[str, FeatureSpec], features: Sequence[str] | None = None,
                  output_dates: Collection[date] | None = None) -> pl.DataFrame:
    """See :func:`market_assets.quant.features.compute_features`."""
    wanted = resolve(registry, features)
    specs = [registry[n] for n in with_dependencies(registry, wanted)]
    panel = prepare(prices, output_dates)
    threads = _threads()
    with np.errstate(all="ignore"), ThreadPoolExecutor(threads, thread_name_prefix="features") as pool:
        columns = _per_symbol(panel, [s for s in specs if s.kernel is not None or s.matrix is not None], pool, threads)
        columns |= output.calendar(panel, [s for s in specs if s.expr is not None])
        columns |= output.cross_section(panel, columns, [s for s in specs if s.cross_section is not None], pool)
    return output.assemble(panel, {n: columns[n] for n in wanted})
