"""Purged walk-forward cross-validation over session dates.

Conventions
-----------
* Splits are made on **sessions** (the distinct dates present), so every row
  of a date (all symbols) lands on the same side of a split.  Session
  arithmetic counts the sessions present in ``dates``; pass data that has
  every session of the period (a daily universe partition always does).
* The label of the row at session ``t`` closes at session ``t + horizon`` (see
  :mod:`market_assets.quant.dataset`).  Its label window is ``[t, t + horizon]``.
* **Purge.**  For a test fold starting at session ``s``, a training row at
  session ``t`` is kept only if its label window closed before ``s``:
  ``t + horizon < s``.  No training label window overlaps the test fold.
* **Embargo.**  López de Prado's embargo drops from training the sessions that
  follow a test fold.  In a walk-forward split training never lies after the
  test fold of the same split, so the embargo becomes a gap *before* each test
  fold: a training row must also satisfy ``t + horizon + embargo < s``, which
  is the same rule :func:`market_assets.quant.dataset.training_frame` applies at
  a model's ``train_end``.  Earlier test folds do appear in later training
  sets (walk-forward), exactly as a rolling retrain would use them.
* Layout: the first ``min_train_sessions`` sessions are the first training
  set; after the ``horizon + embargo`` gap, the remaining sessions are cut
  into ``n_splits`` contiguous test folds of near-equal length.
  ``expanding=True`` trains on all earlier eligible sessions; ``expanding=False``
  keeps only the last ``min_train_sessions`` eligible sessions (sliding window).
* **Time units.**  Estimators that cut their own training rows in time (the
  CV-tuned ridge, the ensembles) work on *time units*: sessions when they are
  given the rows' dates (:func:`time_units`), else row positions of rows in
  time order.  :func:`forward_splits` turns blocks of units into row indices
  with a gap of ``gap`` units before each block: ``horizon + embargo``
  sessions with dates; without dates a row count can only approximate that
  (a block edge may cut a session), so :func:`fallback_gap_rows` leaves out
  ``FALLBACK_GAP_SHARE`` of the rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

#: Without dates, the share of the rows left out before each forward block.
FALLBACK_GAP_SHARE = 0.02


class PurgedWalkForwardSplit:
    """Walk-forward splitter on session dates with purge and embargo.

    Parameters
    ----------
    n_splits : int
        Number of test folds (>= 1).
    horizon : int
        Label horizon in sessions (>= 1).
    embargo : int
        Extra sessions between the purged training set and each test fold (>= 0).
    min_train_sessions : int
        Sessions in the first training set, and the window length when
        ``expanding=False`` (>= 1).
    expanding : bool, default True
        Expanding (all history) or sliding training window.
    """

    def __init__(
        self,
        n_splits: int,
        horizon: int,
        embargo: int,
        min_train_sessions: int,
        expanding: bool = True,
    ) -> None:
        for name, value, low in (
            ("n_splits", n_splits, 1),
            ("horizon", horizon, 1),
            ("embargo", embargo, 0),
            ("min_train_sessions", min_train_sessions, 1),
        ):
            if int(value) != value or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        self.n_splits = n_splits
        self.horizon = horizon
        self.embargo = embargo
        self.min_train_sessions = min_train_sessions
        self.expanding = expanding

    def __repr__(self) -> str:
        return (
            f"PurgedWalkForwardSplit(n_splits={self.n_splits}, horizon={self.horizon}, "
            f"embargo={self.embargo}, min_train_sessions={self.min_train_sessions}, "
            f"expanding={self.expanding})"
        )

    def get_n_splits(self) -> int:
        """Number of (train, test) pairs :meth:`split` yields."""
        return self.n_splits

    def session_folds(self, n_sessions: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """The splits as session positions ``0 .. n_sessions - 1``.

        Returns
        -------
        list of (train_sessions, test_sessions)
            Sorted integer arrays of session positions.
        """
        gap = self.horizon + self.embargo
        first_test = self.min_train_sessions + gap
        n_test = n_sessions - first_test
        if n_test < self.n_splits:
            raise ValueError(
                f"{n_sessions} sessions are too few for {self!r}: need "
                f"min_train_sessions + horizon + embargo + n_splits = "
                f"{first_test + self.n_splits}; lower n_splits or min_train_sessions, "
                "or pass more history"
            )
        folds = []
        for test in np.array_split(np.arange(first_test, n_sessions), self.n_splits):
            train_stop = int(test[0]) - gap  # train sessions are < train_stop
            train_start = 0 if self.expanding else train_stop - self.min_train_sessions
            folds.append((np.arange(train_start, train_stop), test))
        return folds

    def split(self, dates: Sequence | np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_idx, test_idx)`` row indices into ``dates``.

        Parameters
        ----------
        dates : array-like of dates
            The session date of every row (any order, repeated per symbol);
            a numpy array, list, or polars/pandas Series.

        Yields
        ------
        train_idx, test_idx : np.ndarray
            Sorted integer row positions.
        """
        values = np.asarray(dates)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"dates must be a non-empty 1-D array, got shape {values.shape}")
        sessions, position = np.unique(values, return_inverse=True)
        for train_sessions, test_sessions in self.session_folds(len(sessions)):
            train_mask = np.isin(position, train_sessions)
            test_mask = np.isin(position, test_sessions)
            yield np.flatnonzero(train_mask), np.flatnonzero(test_mask)


def time_units(n_rows: int, dates: Sequence | np.ndarray | None = None) -> np.ndarray:
    """The time unit of every row: its session position, or its row position.

    Parameters
    ----------
    n_rows : int
    dates : array-like of dates, optional
        Session date of every row (any order).  Without it the rows are taken
        to be in time order, one unit per row.

    Returns
    -------
    np.ndarray
        Integer units ``0 .. n_units - 1``; rows of one session share a unit.
    """
    if dates is None:
        return np.arange(n_rows)
    values = np.asarray(dates)
    if values.shape != (n_rows,):
        raise ValueError(
            f"dates must hold one session date per row ({n_rows} rows), got shape {values.shape}; "
            "pass the `date` column row-aligned with X"
        )
    return np.unique(values, return_inverse=True)[1].ravel()


def fallback_gap_rows(n_rows: int) -> int:
    """Rows left out before a forward block when no dates are known (>= 1)."""
    return max(1, int(np.ceil(n_rows * FALLBACK_GAP_SHARE)))


def forward_splits(
    units: np.ndarray, test_blocks: Sequence[np.ndarray], gap: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Expanding forward ``(train_idx, test_idx)`` row indices, one per block of units.

    A block's test rows are the rows whose unit lies in the block; its
    training rows are every row whose unit is below ``block.min() - gap``.

    Raises
    ------
    ValueError
        An empty block, or a block with no training row left after the gap.
    """
    splits = []
    for block in test_blocks:
        if len(block) == 0 or int(np.min(block)) - gap < 1:
            raise ValueError(
                f"a forward block starting at unit {int(np.min(block)) if len(block) else None} leaves no "
                f"training unit after a gap of {gap}; pass more history or fewer folds"
            )
        test_mask = np.isin(units, block)
        splits.append((np.flatnonzero(units < int(np.min(block)) - gap), np.flatnonzero(test_mask)))
    return splits
