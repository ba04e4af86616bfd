"""Quality statistics of a feature table (pure; the feature asset's checks use them).

Conventions
-----------
* Quality is judged **per session** (a session's verdict never depends on
  which other sessions were computed with it): functions ending in
  ``_by_session`` return ``{session: ...}`` in date order.
* A row is *past warm-up* for feature ``f`` when its symbol has at least
  ``warmup(f)`` earlier sessions in the data the features were computed from
  (``history`` column: the number of earlier rows of the symbol).  Only those
  rows count toward a feature's null share: warm-up nulls are by design.
* Constancy is judged on the non-null values of a session's symbols; calendar
  features and regime probabilities are skipped (one value per session by
  construction).
* Correlations are Pearson on a deterministic sample of at most
  ``max_rows`` rows (every k-th row), pairwise over non-null values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import polars as pl

from market_assets.quant.ic import cross_sectional_ic
from market_assets.schema import KEY_COLUMNS as KEYS


def feature_columns(frame: pl.DataFrame) -> list[str]:
    """Every column except ``date``, ``symbol`` and ``history``."""
    return [c for c in frame.columns if c not in (*KEYS, "history")]


def nonfinite_by_session(frame: pl.DataFrame) -> dict[dt.date, dict[str, int]]:
    """Per session, the number of ±inf or NaN values of each feature that has any (``{}`` if none)."""
    names = feature_columns(frame)
    counts = _by_session(frame, [(~pl.col(n).is_finite() & pl.col(n).is_not_null()).sum().alias(n) for n in names])
    return {day: {n: int(v) for n, v in row.items() if v} for day, row in counts.items()}


def null_shares_by_session(frame: pl.DataFrame, warmups: Mapping[str, int]) -> dict[dt.date, dict[str, float]]:
    """Per session, each feature's share of null values among the rows past its warm-up.

    ``frame`` needs a ``history`` column (earlier sessions of the symbol).
    Features with no row past warm-up in a session are left out of it.
    """
    if "history" not in frame.columns:
        raise ValueError(f"null_shares_by_session needs a 'history' column; got {frame.columns}")
    exprs = []
    for name in feature_columns(frame):
        past = pl.col("history") >= warmups.get(name, 0)
        exprs.append(pl.when(past.sum() > 0).then((past & pl.col(name).is_null()).sum() / past.sum()).alias(name))
    shares = _by_session(frame, exprs)
    return {day: {n: float(v) for n, v in row.items() if v is not None} for day, row in shares.items()}


def constant_by_session(frame: pl.DataFrame, skip: Sequence[str] = ()) -> dict[dt.date, list[str]]:
    """Per session, the features whose non-null values across the symbols are all equal (or all null)."""
    names = [n for n in feature_columns(frame) if n not in set(skip)]
    distinct = _by_session(frame, [pl.col(n).drop_nulls().n_unique().alias(n) for n in names])
    return {day: [n for n, v in row.items() if v <= 1] for day, row in distinct.items()}


def _by_session(frame: pl.DataFrame, exprs: list[pl.Expr]) -> dict[dt.date, dict[str, object]]:
    """``exprs`` aggregated per ``date``: session -> {name: value}, sessions in date order."""
    if not exprs or frame.is_empty():
        return {day: {} for day in frame["date"].unique().sort()} if "date" in frame.columns else {}
    rows = frame.group_by("date").agg(exprs).sort("date")
    return {row.pop("date"): row for row in rows.iter_rows(named=True)}


def sample_rows(frame: pl.DataFrame, max_rows: int = 100_000) -> pl.DataFrame:
    """Every k-th row so that at most ``max_rows`` remain (deterministic)."""
    step = max(1, -(-frame.height // max_rows))
    return frame.gather_every(step)


def daily_feature_ic(
    features: pl.DataFrame, labels: pl.DataFrame, label_columns: Sequence[str]
) -> pl.DataFrame:
    """Per-session cross-sectional IC of every feature with each label.

    Rows of ``features`` and ``labels`` are inner-joined on ``date, symbol``;
    the IC follows :mod:`market_assets.quant.ic` (pairwise deletion of
    non-finite values, Spearman on average ranks, null when undefined).

    Returns
    -------
    pl.DataFrame
        ``date, feature, label, ic, rank_ic`` sorted by ``date, label, feature``.
    """
    names = feature_columns(features)
    joined = features.join(labels.select(*KEYS, *label_columns), on=list(KEYS), how="inner")
    return cross_sectional_ic(joined, names, label_columns).select(
        "date", pl.col("signal").alias("feature"), pl.col("outcome").alias("label"), "ic", "rank_ic"
    )


def best_by_family(
    scores: pl.DataFrame, families: Mapping[str, str], *, score: str, limit: int | None = None
) -> pl.DataFrame:
    """One row per feature family: its member with the largest ``|score|``, strongest family first.

    Members of a family are monotone transforms of one signal within every
    session (:mod:`market_assets.quant.indicators.relations`), so their rank
    ICs agree up to sign and a ranking by feature would repeat the signal.

    Parameters
    ----------
    scores
        A ``feature`` column and numeric columns, one row per feature (e.g. one
        session's ``rank_ic``, or ``mean_rank_ic`` and ``rank_icir`` over sessions).
    families
        feature -> family name; a feature not in it is its own family.
    score
        The column ranked by absolute value; nulls rank last.

    Returns
    -------
    pl.DataFrame
        ``family``, ``feature`` (the best member; on a tie the first in
        ``scores``), ``members`` (how many of the family's features are in
        ``scores``), then the other columns of ``scores`` for that member,
        sorted by ``|score|`` descending, then family name.
    """
    if score not in scores.columns or "feature" not in scores.columns:
        raise ValueError(f"best_by_family needs 'feature' and {score!r} columns; got {scores.columns}")
    named = scores.with_columns(
        pl.col("feature").replace_strict(dict(families), default=pl.col("feature"), return_dtype=pl.String)
        .alias("family"),
        pl.int_range(pl.len()).alias("_order"),
    )
    strength = pl.col(score).abs()
    best = (
        named.sort(strength, "_order", descending=[True, False], nulls_last=True)
        .group_by("family", maintain_order=True)
        .agg(pl.all().first(), pl.len().cast(pl.Int64).alias("members"))
        .sort(strength, "family", descending=[True, False], nulls_last=True)
        .select("family", "feature", "members", pl.exclude("family", "feature", "members", "_order"))
    )
    return best if limit is None else best.head(limit)
