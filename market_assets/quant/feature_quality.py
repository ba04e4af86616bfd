"""Quality statistics of a feature table (pure; the feature asset's checks use them).

Conventions
-----------
* A row is *past warm-up* for feature ``f`` when its symbol has at least
  ``warmup(f)`` earlier sessions in the data the features were computed from
  (``history`` column: the number of earlier rows of the symbol).  Only those
  rows count toward a feature's null share: warm-up nulls are by design.
* Constancy is judged on the non-null values of the rows given; calendar
  features are skipped (they are constant within a session by construction).
* Correlations are Pearson on a deterministic sample of at most
  ``max_rows`` rows (every k-th row), pairwise over non-null values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

KEYS = ("date", "symbol")


def feature_columns(frame: pl.DataFrame) -> list[str]:
    """Every column except ``date``, ``symbol`` and ``history``."""
    return [c for c in frame.columns if c not in (*KEYS, "history")]


def nonfinite_counts(frame: pl.DataFrame) -> dict[str, int]:
    """Number of ±inf or NaN values per feature, only features that have any."""
    names = feature_columns(frame)
    if not names or frame.is_empty():
        return {}
    row = frame.select(
        (~pl.col(n).is_finite() & pl.col(n).is_not_null()).sum().alias(n) for n in names
    ).row(0, named=True)
    return {name: int(count) for name, count in row.items() if count}


def null_share_after_warmup(frame: pl.DataFrame, warmups: Mapping[str, int]) -> dict[str, float]:
    """Share of null values among the rows past each feature's warm-up.

    ``frame`` needs a ``history`` column (earlier sessions of the symbol).
    Features with no row past warm-up are left out.
    """
    if "history" not in frame.columns:
        raise ValueError(f"null_share_after_warmup needs a 'history' column; got {frame.columns}")
    shares = {}
    for name in feature_columns(frame):
        past = pl.col("history") >= warmups.get(name, 0)
        counts = frame.select(past.sum().alias("n"), (past & pl.col(name).is_null()).sum().alias("nulls")).row(0)
        if counts[0]:
            shares[name] = counts[1] / counts[0]
    return shares


def constant_features(frame: pl.DataFrame, skip: Sequence[str] = ()) -> list[str]:
    """Features whose non-null values are all equal (or that are all null)."""
    names = [n for n in feature_columns(frame) if n not in set(skip)]
    if not names:
        return []
    row = frame.select(pl.col(n).drop_nulls().n_unique().alias(n) for n in names).row(0, named=True)
    return [name for name, distinct in row.items() if distinct <= 1]


def sample_rows(frame: pl.DataFrame, max_rows: int = 100_000) -> pl.DataFrame:
    """Every k-th row so that at most ``max_rows`` remain (deterministic)."""
    step = max(1, -(-frame.height // max_rows))
    return frame.gather_every(step)


def daily_feature_ic(
    features: pl.DataFrame, labels: pl.DataFrame, label_columns: Sequence[str]
) -> pl.DataFrame:
    """Per-session cross-sectional IC of every feature with each label.

    Returns ``date, feature, label, ic, rank_ic``: Pearson and Spearman
    correlation across the symbols of a session (rows where either side is
    null are dropped pairwise by polars); null when undefined (fewer than two
    symbols or a constant side).
    """
    names = feature_columns(features)
    joined = features.join(labels.select(*KEYS, *label_columns), on=list(KEYS), how="inner")
    frames = []
    for label in label_columns:
        per_date = joined.group_by("date").agg(
            [pl.corr(n, label).alias(f"ic|{n}") for n in names]
            + [pl.corr(n, label, method="spearman").alias(f"rank_ic|{n}") for n in names]
        )
        long = per_date.unpivot(index="date", variable_name="key").with_columns(
            pl.col("key").str.split_exact("|", 1).struct.rename_fields(["stat", "feature"])
        ).unnest("key")
        frames.append(
            long.pivot(on="stat", index=["date", "feature"], values="value")
            .with_columns(pl.lit(label).alias("label"))
            .select("date", "feature", "label", pl.col("ic").fill_nan(None), pl.col("rank_ic").fill_nan(None))
        )
    return pl.concat(frames).sort("date", "label", "feature")
