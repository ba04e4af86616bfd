"""Compute a feature panel in stages: base columns, recursions, matrix kernels,
per-symbol polars expressions, cross-sectional expressions.

Every per-symbol expression runs as ``expr.over(symbol)`` in a single
``with_columns`` on the symbol-sorted panel; there is no Python loop over
symbols.  Rows before a feature's ``warmup`` are nulled explicitly, and every
non-finite value (division by zero, log of zero) becomes null.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from market_assets.quant.indicators._frame import IDX, SYM, Layout, column_matrix, date_major_order, prepare
from market_assets.quant.indicators.recursive import run_recursions
from market_assets.quant.indicators.registry import FeatureSpec, resolve, with_dependencies


def _masked(spec: FeatureSpec, expr: pl.Expr) -> pl.Expr:
    if spec.warmup == 0:
        return expr.alias(spec.name)
    return pl.when(pl.col(IDX) >= spec.warmup).then(expr).alias(spec.name)


def _matrix_stage(frame: pl.DataFrame, specs: list[FeatureSpec]) -> pl.DataFrame:
    if not specs:
        return frame
    layout = Layout(frame)
    cache: dict[str, np.ndarray] = {}
    columns = []
    for spec in specs:
        inputs, fn = spec.matrix  # type: ignore[misc]
        mats = [cache.setdefault(c, column_matrix(frame, layout, c)) for c in inputs]
        columns.append(pl.Series(spec.name, layout.to_long(fn(*mats))).fill_nan(None))
    frame = frame.with_columns(columns)
    return frame.with_columns(_masked(s, pl.col(s.name)) for s in specs)


def _finite(name: str) -> pl.Expr:
    col = pl.col(name).cast(pl.Float64)
    return pl.when(col.is_finite()).then(col).alias(name)


def _date_major(frame: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """Reorder to (date, symbol), one column at a time to bound peak memory."""
    order = date_major_order(frame)
    keep = frame.select("date", "symbol", *names)
    del frame
    columns = [keep.drop_in_place(name).gather(order) for name in ["date", "symbol", *names]]
    return pl.DataFrame(columns)


def _calendar(frame: pl.DataFrame, specs: list[FeatureSpec]) -> pl.DataFrame:
    """Calendar features computed once per distinct date, then joined."""
    if not specs:
        return frame
    dates = frame.select(pl.col("date").unique()).with_columns(_masked(s, s.expr()) for s in specs)
    return frame.join(dates, on="date", how="left", maintain_order="left")


def compute_panel(prices: pl.DataFrame, registry: dict[str, FeatureSpec],
                  features: Sequence[str] | None = None) -> pl.DataFrame:
    """See :func:`market_assets.quant.features.compute_features`."""
    wanted = resolve(registry, features)
    specs = [registry[n] for n in with_dependencies(registry, wanted)]
    frame = prepare(prices)
    if frame.height == 0:
        return pl.DataFrame(schema={"date": pl.Date, "symbol": pl.String, **{n: pl.Float64 for n in wanted}})
    recursions = [r for s in specs for r in s.recursions]
    if recursions:
        frame = run_recursions(frame, Layout(frame), recursions)
    frame = _matrix_stage(frame, [s for s in specs if s.matrix is not None])
    per_symbol = [s for s in specs if s.expr is not None and s.group != "calendar"]
    frame = frame.lazy().with_columns(_masked(s, s.expr()).over(SYM) for s in per_symbol).select(
        "date", "symbol", *[_finite(s.name) for s in specs if s.expr is not None and s.group != "calendar"
                            or s.matrix is not None]).collect()
    frame = _date_major(frame, [c for c in frame.columns if c not in ("date", "symbol")])
    frame = _calendar(frame, [s for s in specs if s.group == "calendar"])
    cross = [s for s in specs if s.cross_section is not None]
    if cross:
        frame = frame.with_columns(s.cross_section().alias(s.name) for s in cross)
    return frame.select("date", "symbol", *[_finite(n) for n in wanted])
