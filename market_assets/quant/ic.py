"""The information coefficient, defined once: per session, across symbols, then over sessions.

Every IC in the project (features against labels in ``feature_ic``, model
predictions against realised returns in :mod:`.metrics`) is computed here.

Conventions
-----------
* **Missing values.**  A non-finite value (null, NaN, ±inf) on either side
  removes that row *for that pair only* (pairwise deletion): a feature that
  is null for one symbol does not remove the symbol from another feature's IC.
* **Per session.**  ``ic`` is the Pearson correlation across the symbols of a
  session; ``rank_ic`` is Spearman: the Pearson correlation of the average
  ranks (ties share their mean rank), ranked *after* the pairwise deletion.
  ``n`` is the number of rows that entered.
* **Undefined is null, never 0.**  With fewer than :data:`MIN_ROWS` rows, or a
  side constant on them, the session's IC is null.  Dict outputs of plain
  floats (:func:`market_assets.quant.metrics.ic_summary`) write NaN instead.
* **Over sessions.**  ``mean_ic`` is the equal-weighted mean over the sessions
  with a defined IC (``n_sessions`` of them); ``std_ic`` the sample standard
  deviation (ddof=1); ``icir = mean_ic / std_ic`` **per period**, not
  annualised (multiply by ``sqrt(252)`` for daily ICs); null with fewer than
  two sessions or a zero standard deviation.  The same for the rank IC
  (``mean_rank_ic``, ``std_rank_ic``, ``rank_icir``, ``n_rank_sessions``).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

MIN_ROWS = 2
#: Columns of :func:`cross_sectional_ic`.
IC_COLUMNS = ("date", "signal", "outcome", "ic", "rank_ic", "n")


def _finite(name: str) -> pl.Expr:
    return pl.when(pl.col(name).cast(pl.Float64).is_finite()).then(pl.col(name).cast(pl.Float64)).alias(name)


def _defined(value: pl.Expr, n: pl.Expr) -> pl.Expr:
    return pl.when(n >= MIN_ROWS).then(value.fill_nan(None))


def cross_sectional_ic(
    frame: pl.DataFrame, signals: Sequence[str], outcomes: Sequence[str], *, date: str = "date"
) -> pl.DataFrame:
    """Per-session IC and rank IC of every signal with every outcome.

    Parameters
    ----------
    frame
        One row per (session, symbol); ``date`` groups the cross-sections.
    signals, outcomes
        Numeric columns of ``frame`` (features or predictions; labels or returns).

    Returns
    -------
    pl.DataFrame
        ``date, signal, outcome, ic, rank_ic, n`` (see the module conventions),
        one row per session, signal and outcome, sorted by ``date, outcome,
        signal``; ``n`` is an ``Int64`` count of the rows that entered.
    """
    missing = [c for c in (date, *signals, *outcomes) if c not in frame.columns]
    if missing:
        raise ValueError(f"cross_sectional_ic: missing column(s) {missing}; got {frame.columns}")
    overlap = sorted(set(signals) & set(outcomes))
    if overlap:
        raise ValueError(f"cross_sectional_ic: {overlap} named both as signal and outcome")
    schema = {"date": frame.schema[date], "signal": pl.String, "outcome": pl.String,
              "ic": pl.Float64, "rank_ic": pl.Float64, "n": pl.Int64}
    if not signals or not outcomes:
        return pl.DataFrame(schema=schema)
    data = frame.select(pl.col(date).alias("date"), *[_finite(c) for c in dict.fromkeys([*signals, *outcomes])])
    parts = []
    for outcome in outcomes:
        stats = []
        for k, signal in enumerate(signals):
            n = (pl.col(signal).is_not_null() & pl.col(outcome).is_not_null()).sum().cast(pl.Int64)
            stats += [
                _defined(pl.corr(signal, outcome), n).alias(f"ic|{k}"),
                _defined(pl.corr(signal, outcome, method="spearman"), n).alias(f"rank_ic|{k}"),
                n.alias(f"n|{k}"),
            ]
        wide = data.group_by("date").agg(stats)
        long = wide.unpivot(index="date", variable_name="key").with_columns(
            pl.col("key").str.split_exact("|", 1).struct.rename_fields(["stat", "k"])
        ).unnest("key")
        part = long.pivot(on="stat", index=["date", "k"], values="value")
        parts.append(part.select(
            "date",
            pl.col("k").cast(pl.Int64).replace_strict(dict(enumerate(signals)), return_dtype=pl.String).alias("signal"),
            pl.lit(outcome).alias("outcome"),
            pl.col("ic").cast(pl.Float64), pl.col("rank_ic").cast(pl.Float64), pl.col("n").cast(pl.Int64),
        ))
    return pl.concat(parts).sort("date", "outcome", "signal").cast(schema)


def summarise_ic(ic: pl.DataFrame, by: Sequence[str] = ("signal", "outcome")) -> pl.DataFrame:
    """Mean, standard deviation and ICIR over sessions of a per-session IC frame.

    Parameters
    ----------
    ic
        Rows of :func:`cross_sectional_ic` (any frame with ``ic`` and
        ``rank_ic`` columns and the ``by`` columns).
    by
        Grouping columns; an empty sequence summarises the whole frame.

    Returns
    -------
    pl.DataFrame
        ``by`` columns, then ``mean_ic, std_ic, icir, n_sessions, mean_rank_ic,
        std_rank_ic, rank_icir, n_rank_sessions`` (module conventions: nulls
        ignored, ddof=1, per period, null when undefined).
    """
    stats = []
    for prefix, column in (("", "ic"), ("rank_", "rank_ic")):
        value = pl.col(column).fill_nan(None)
        count, std = value.count(), value.std(ddof=1)
        stats += [
            value.mean().alias(f"mean_{column}"),
            std.alias(f"std_{column}"),
            pl.when((count >= 2) & (std > 0)).then(value.mean() / std).alias(f"{prefix}icir"),
            count.cast(pl.Int64).alias(f"n_{prefix}sessions"),
        ]
    if not by:
        return ic.select(stats)
    return ic.group_by(list(by), maintain_order=True).agg(stats)
