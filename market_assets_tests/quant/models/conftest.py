"""Small deterministic panels for the model tests.

The ``postgres_url`` fixture lives in ``market_assets_tests/conftest.py``
(shared with the other service-backed tests).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

N_SESSIONS, N_SYMBOLS = 60, 10


@pytest.fixture
def small_panel() -> dict:
    """60 sessions x 10 symbols, time-ordered; ``mom_20`` carries a real signal.

    Returns a dict with ``X`` (polars, with a warm-up null), ``dates`` and one
    target per task.
    """
    rng = np.random.default_rng(7)
    n = N_SESSIONS * N_SYMBOLS
    start = dt.date(2024, 1, 1)
    dates = np.repeat([start + dt.timedelta(days=i) for i in range(N_SESSIONS)], N_SYMBOLS)
    X = pl.DataFrame({
        "ret_lag_1": rng.normal(size=n),
        "mom_20": rng.normal(size=n),
        "vol_20": rng.uniform(0.5, 2.0, size=n),
    }).with_columns(pl.when(pl.int_range(n) < N_SYMBOLS).then(None).otherwise(pl.col("mom_20")).alias("mom_20"))
    ret = 0.01 * (0.5 * X["mom_20"].fill_null(0.0).to_numpy() + rng.normal(size=n))
    return {
        "X": X,
        "dates": dates,
        "regression": ret,
        "direction": (ret > 0).astype(float),
        "five_class": np.digitize(ret, np.quantile(ret, [0.1, 0.3, 0.7, 0.9])).astype(np.int8),
    }
