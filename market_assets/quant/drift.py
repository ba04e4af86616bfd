"""Feature, prediction and target drift with Evidently's default tests, without Evidently.

The numbers are those of ``Report([DataDriftPreset()])`` of Evidently 0.7
(same test per column, same score, same decision, same dataset rule; tested
to 1e-9), computed on sorted NumPy arrays: a session's drift of ~300 features
against a 125,000-row reference takes seconds instead of minutes
(``benchmarks/bench_drift.py``).  The
test-selection rule, scores and thresholds are documented in
:mod:`market_assets.quant.drift_stattests`.

Conventions
-----------
* **Cleaning.**  Per column, nulls, NaN and ±inf are dropped on each side
  before anything else (as Evidently does); the 1000-row rule counts the
  reference rows left.
* **Column types** follow what Evidently infers from ``current.to_pandas()``:
  float columns are numerical; integer columns are categorical when the
  current window has no null and at most 10 distinct values (a null turns
  pandas' column into floats, hence numerical); boolean columns are
  categorical.  Other dtypes are not tested (an explicit request raises).
* **Empty columns.**  Evidently raises, failing the whole report, when a
  column has no value left on one side.  Here such a column gets a row with
  null ``stattest``, ``score`` and ``drifted`` and is left out of the counts
  (``summary.untested`` names it); ``empty="raise"`` restores Evidently's
  behaviour.
* **Dataset drift** (Evidently's rule): ``drifted_share = n_drifted /
  n_columns`` over the tested columns; ``dataset_drift`` when
  ``drifted_share >= drift_share`` (0.5 by default).
* **Reuse.**  The reference side is the expensive part (sorting ~125k rows ×
  300 columns).  :func:`profile_reference` does it once; pass the profile
  instead of the frame to score many current windows against one champion's
  training rows.

Prediction drift is :func:`drift_by` on the ``prediction`` column per
``horizon``; target drift the same on the realised returns (or
:func:`feature_drift` on the ``fwd_ret_<h>`` label columns).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from market_assets.quant import drift_stattests as st
from market_assets.schema import KEY_COLUMNS

#: Evidently's ``INTEGER_CARDINALITY_LIMIT``: integer columns with at most this many values are categorical.
INTEGER_CATEGORY_LIMIT = 10
DEFAULT_DRIFT_SHARE = 0.5
DRIFT_SCHEMA: dict[str, pl.DataType] = {
    "column": pl.String(), "stattest": pl.String(), "score": pl.Float64(), "threshold": pl.Float64(),
    "drifted": pl.Boolean(), "severity": pl.Float64(), "n_reference": pl.Int64(), "n_current": pl.Int64(),
}


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """A reference frame prepared for drift: per column, its finite values sorted.

    Build it with :func:`profile_reference`.  ``sorted_values`` has one column
    per entry of ``columns``, each sorted ascending with NaN padding after its
    ``n_valid`` finite values; ``std`` is the population std of those values.
    """

    columns: tuple[str, ...]
    sorted_values: np.ndarray
    n_valid: np.ndarray
    std: np.ndarray

    @property
    def n_rows(self) -> int:
        """Rows of the reference frame (before cleaning)."""
        return int(self.sorted_values.shape[0])


@dataclass(frozen=True)
class DriftSummary:
    """Dataset-level drift by Evidently's rule over the tested columns."""

    n_columns: int
    n_drifted: int
    drifted_share: float
    dataset_drift: bool
    drift_share: float
    untested: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, float | int | bool | list[str]]:
        """Plain values, e.g. for asset metadata."""
        return {"n_columns": self.n_columns, "n_drifted": self.n_drifted, "drifted_share": self.drifted_share,
                "dataset_drift": self.dataset_drift, "drift_share": self.drift_share,
                "untested": list(self.untested)}


@dataclass(frozen=True)
class DriftResult:
    """Per-column drift (``table``, columns of :data:`DRIFT_SCHEMA`) and its :class:`DriftSummary`."""

    table: pl.DataFrame
    summary: DriftSummary


def numeric_columns(frame: pl.DataFrame) -> list[str]:
    """Columns of ``frame`` that drift is computed for by default: numeric or boolean, not a key."""
    return [c for c, t in frame.schema.items()
            if c not in KEY_COLUMNS and (t.is_numeric() or t == pl.Boolean)]


def profile_reference(reference: pl.DataFrame, columns: Sequence[str] | None = None) -> ReferenceProfile:
    """Sort the finite values of each reference column once (the costly half of a drift run).

    Parameters
    ----------
    reference
        The rows the champion was trained on (features, predictions or labels).
    columns
        Columns to keep (default :func:`numeric_columns`); each numeric or boolean.

    Returns
    -------
    ReferenceProfile
    """
    names = _checked_columns(reference, columns, "reference")
    sorted_values, n_valid = _sorted_finite(reference, names)
    std = np.array([np.std(sorted_values[:n, j]) if n else 0.0 for j, n in enumerate(n_valid)])
    return ReferenceProfile(tuple(names), sorted_values, n_valid, std)


def feature_drift(
    reference: pl.DataFrame | ReferenceProfile,
    current: pl.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    drift_share: float = DEFAULT_DRIFT_SHARE,
    threshold: float | None = None,
    empty: Literal["skip", "raise"] = "skip",
) -> DriftResult:
    """Drift of each column of ``current`` against ``reference``, as ``DataDriftPreset`` scores it.

    Parameters
    ----------
    reference
        Reference rows, or their :func:`profile_reference`.
    current
        The current window (e.g. the last 20 sessions of feature rows).
    columns
        Columns to test (default: :func:`numeric_columns` of ``current``, or the
        profile's columns present in ``current``).
    drift_share
        Share of drifted columns at which the dataset drifts (Evidently's 0.5).
    threshold
        One threshold for every column's test instead of each test's default
        (like ``DataDriftPreset(threshold=...)``).
    empty
        What a column with no finite value on one side does (module docstring).

    Returns
    -------
    DriftResult
        ``table`` with one row per column in ``columns`` order, and ``summary``.
    """
    if not 0.0 < drift_share <= 1.0:
        raise ValueError(f"drift_share={drift_share}; expected a share in (0, 1], e.g. 0.5")
    if empty not in ("skip", "raise"):
        raise ValueError(f"empty={empty!r}; expected 'skip' or 'raise'")
    profile = reference if isinstance(reference, ReferenceProfile) else None
    if columns is None:
        columns = ([c for c in profile.columns if c in current.columns] if profile is not None
                   else numeric_columns(current))
    names = _checked_columns(current, columns, "current")
    if profile is None:
        profile = profile_reference(reference, names)
    missing = [c for c in names if c not in profile.columns]
    if missing:
        raise ValueError(f"reference has no column(s) {missing[:5]}; profile it with those columns "
                         f"(it holds {len(profile.columns)}: {list(profile.columns[:5])}...)")
    position = {c: i for i, c in enumerate(profile.columns)}
    ref_index = np.array([position[c] for c in names], dtype=np.int64)
    cur_sorted, cur_valid = _sorted_finite(current, names)
    categorical = [_is_categorical(current.get_column(c)) for c in names]
    rows = _score_columns(profile, ref_index, cur_sorted, cur_valid, names, categorical, threshold, empty)
    table = pl.DataFrame(rows, schema=DRIFT_SCHEMA, orient="row")
    return DriftResult(table, summarise_drift(table, drift_share))


def summarise_drift(table: pl.DataFrame, drift_share: float = DEFAULT_DRIFT_SHARE) -> DriftSummary:
    """Evidently's dataset rule over the tested rows of a drift ``table``."""
    tested = table.filter(pl.col("drifted").is_not_null())
    n_columns, n_drifted = tested.height, int(tested.get_column("drifted").sum())
    share = n_drifted / n_columns if n_columns else float("nan")
    return DriftSummary(
        n_columns=n_columns, n_drifted=n_drifted, drifted_share=share,
        dataset_drift=bool(n_columns and share >= drift_share), drift_share=drift_share,
        untested=tuple(table.filter(pl.col("drifted").is_null()).get_column("column").to_list()),
    )


def drift_by(
    reference: pl.DataFrame, current: pl.DataFrame, *, value: str, by: str = "horizon",
    threshold: float | None = None,
) -> pl.DataFrame:
    """Drift of one ``value`` column per group, e.g. prediction drift per horizon.

    Parameters
    ----------
    reference, current
        Long frames holding ``by`` and ``value`` (e.g. ``predictions``: ``date,
        symbol, horizon, prediction``; or realised returns for target drift).
    value
        The column whose distribution is compared.
    by
        Groups compared separately; every group of ``current`` must be in ``reference``.

    Returns
    -------
    pl.DataFrame
        ``by`` then the columns of :data:`DRIFT_SCHEMA`, one row per group of ``current``.
    """
    for name, frame in (("reference", reference), ("current", current)):
        absent = [c for c in (by, value) if c not in frame.columns]
        if absent:
            raise ValueError(f"{name} has no column(s) {absent}; expected {by!r} and {value!r} "
                             f"(got {frame.columns})")
    known = set(reference.get_column(by).unique().to_list())
    rows = []
    for key in current.get_column(by).unique().sort().to_list():
        if key not in known:
            raise ValueError(f"{by}={key!r} is in current but not in reference (reference has "
                             f"{sorted(known)}); compare a group only against its own reference")
        result = feature_drift(reference.filter(pl.col(by) == key).select(value),
                               current.filter(pl.col(by) == key).select(value), [value], threshold=threshold)
        rows.append(result.table.select(pl.lit(key, dtype=current.schema[by]).alias(by), pl.all()))
    return pl.concat(rows) if rows else pl.DataFrame(schema={by: current.schema[by], **DRIFT_SCHEMA})


def most_drifted(table: pl.DataFrame, n: int, *, exclude: Sequence[str] = ()) -> list[str]:
    """The ``n`` tested columns furthest past their threshold (drifted first, then by severity)."""
    ranked = (table.filter(pl.col("drifted").is_not_null() & ~pl.col("column").is_in(list(exclude)))
              .sort(["drifted", "severity"], descending=True, nulls_last=True))
    return ranked.get_column("column").head(n).to_list()


def _checked_columns(frame: pl.DataFrame, columns: Sequence[str] | None, side: str) -> list[str]:
    names = numeric_columns(frame) if columns is None else list(columns)
    schema = frame.schema
    absent = [c for c in names if c not in schema]
    if absent:
        raise ValueError(f"{side} has no column(s) {absent[:5]}; it holds {frame.columns[:8]}...")
    wrong = [f"{c} ({schema[c]})" for c in names if not (schema[c].is_numeric() or schema[c] == pl.Boolean)]
    if wrong:
        raise ValueError(f"{side}: drift is computed for numeric or boolean columns, got {wrong[:5]}; "
                         "leave text and date columns out of `columns`")
    if len(set(names)) != len(names):
        raise ValueError(f"columns repeat a name: {sorted({c for c in names if names.count(c) > 1})}")
    return names


def _sorted_finite(frame: pl.DataFrame, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each column as float64, non-finite -> NaN, sorted ascending (NaN last), and its finite count."""
    if not names:
        return np.empty((frame.height, 0)), np.zeros(0, dtype=np.int64)
    values = np.asfortranarray(frame.select(pl.col(c).cast(pl.Float64) for c in names).to_numpy(writable=True))
    values[~np.isfinite(values)] = np.nan
    valid = np.count_nonzero(~np.isnan(values), axis=0).astype(np.int64)
    values.sort(axis=0)
    return values, valid


def _is_categorical(series: pl.Series) -> bool:
    """Evidently's type inference on ``series.to_pandas()`` (module docstring)."""
    if series.dtype == pl.Boolean:
        return True
    if series.dtype.is_integer():
        return series.null_count() == 0 and series.n_unique() <= INTEGER_CATEGORY_LIMIT
    return False


def _value_counts(sorted_valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and their counts of a sorted finite array."""
    starts = np.flatnonzero(np.r_[True, sorted_valid[1:] != sorted_valid[:-1]])
    return sorted_valid[starts], np.diff(np.r_[starts, sorted_valid.size])


def _few_values(ref: np.ndarray, cur: np.ndarray, limit: int) -> int:
    """Distinct values of both sides together if at most ``limit`` (else ``limit + 1``)."""
    if np.count_nonzero(ref[1:] != ref[:-1]) + 1 > limit or np.count_nonzero(cur[1:] != cur[:-1]) + 1 > limit:
        return limit + 1
    return int(np.union1d(ref, cur).size)


def _score_columns(profile: ReferenceProfile, ref_index: np.ndarray, cur_sorted: np.ndarray,
                   cur_valid: np.ndarray, names: Sequence[str], categorical: Sequence[bool],
                   threshold: float | None, empty: str) -> list[tuple]:
    """One row of :data:`DRIFT_SCHEMA` per column (Wasserstein grids shared by columns of equal sizes)."""
    rows, grids = [], {}
    for k, name in enumerate(names):
        j, n_ref, n_cur = ref_index[k], int(profile.n_valid[ref_index[k]]), int(cur_valid[k])
        if n_ref == 0 or n_cur == 0:
            if empty == "raise":
                side = "reference" if n_ref == 0 else "current"
                raise ValueError(f"column {name!r} has no finite value in the {side} data; drop it from "
                                 "`columns` or pass empty='skip'")
            rows.append((name, None, None, None, None, None, n_ref, n_cur))
            continue
        ref, cur = profile.sorted_values[:n_ref, j], cur_sorted[:n_cur, k]
        test = st.select_stattest(n_ref, _few_values(ref, cur, st.FEW_VALUES), categorical[k])
        if test == "wasserstein":
            grid = grids.get((n_ref, n_cur)) or grids.setdefault((n_ref, n_cur), st.quantile_grid(n_ref, n_cur))
            score = st.wasserstein_norm(ref, cur, profile.std[j], grid)
        elif test == "ks":
            score = st.ks_pvalue(ref, cur)
        else:
            counted = (*_value_counts(ref), *_value_counts(cur))
            score = {"chisquare": st.chisquare_pvalue, "z": st.z_pvalue,
                     "jensenshannon": st.jensenshannon_distance}[test](*counted)
        rows.append(_row(name, test, score, threshold, n_ref, n_cur))
    return rows


def _row(name: str, test: str, score: float, threshold: float | None, n_ref: int, n_cur: int) -> tuple:
    limit = st.DEFAULT_THRESHOLDS[test] if threshold is None else float(threshold)
    return (name, test, score, limit, st.is_drifted(test, score, limit), st.severity(test, score, limit),
            n_ref, n_cur)
