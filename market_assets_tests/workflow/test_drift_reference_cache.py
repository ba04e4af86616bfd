"""The champion's drift reference cache: the same drift cold and warm; a changed input is never served stale.

The champion's model is a stand-in (a fixed linear score of two features) so the
test needs no MLflow: what is cached is everything ``build_reference`` derives
from it, which is the same code path as with a registered model.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import market_assets.workflow.features as workflow_features
import market_assets.workflow.prediction as workflow_prediction
from market_assets.calendars import sessions_between
from market_assets.quant.features import compute_features
from market_assets.quant.performance import realized_returns
from market_assets.sources import build_source
from market_assets.tracking.history import ChampionRecord
from market_assets.workflow import monitoring
from market_assets.workflow.drift_reference_cache import ReferenceCache, cached_champion_reference
from market_assets.workflow.monitoring import DriftSettings, session_drift

FIRST, LAST = dt.date(2023, 1, 3), dt.date(2023, 12, 29)
CALENDAR = sessions_between("XNYS", FIRST, LAST)
FEATURES = ["ret_1", "ret_5", "ret_20", "std_20", "rsi_14", "volume_ratio_20"]
NAME = "regression_h1"
CHAMPION = ChampionRecord("3", CALENDAR[-40], {}, run_id="run-3")
SETTINGS = DriftSettings(window=10, reference_sessions=60)
SESSIONS = CALENDAR[-3:]


@pytest.fixture(scope="module")
def market() -> tuple[pl.DataFrame, pl.DataFrame]:
    prices = build_source("synthetic", n_symbols=12, seed=3, signal_strength=0.1).fetch(FIRST, LAST)
    features = compute_features(prices, features=FEATURES)
    # non-finite values and nulls must survive the round trip exactly
    features = features.with_columns(
        pl.when(pl.col("ret_1") > 0.04).then(float("inf")).otherwise(pl.col("ret_1")).alias("ret_1"),
        pl.when(pl.col("rsi_14") > 80).then(None).otherwise(pl.col("rsi_14")).alias("rsi_14"),
    )
    return prices, features


@pytest.fixture
def fake_model(monkeypatch) -> list[str]:
    """The champion: ``0.1 * ret_5 - 0.01 * std_20`` on the contract ``FEATURES``; records each scoring."""
    calls: list[str] = []

    def model_features(tracking, run_id, tags):
        return list(FEATURES), list(FEATURES)

    def predict_with_version(tracking, name, version, rows, task, horizon):
        calls.append(version.version)
        score = (0.1 * pl.col("ret_5").fill_null(0.0) - 0.01 * pl.col("std_20").fill_null(0.0)
                 + 1e-3 * int(version.version))
        return rows.select("date", "symbol", score.alias("prediction"))

    monkeypatch.setattr(workflow_features, "model_features", model_features)
    monkeypatch.setattr(workflow_prediction, "predict_with_version", predict_with_version)
    return calls


def _store(root: Path, asset: str, frame: pl.DataFrame) -> None:
    for (session,), part in frame.partition_by("date", as_dict=True).items():
        path = root / asset / f"{session.isoformat()}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        part.write_parquet(path)


def _report(root: Path | None, prices, features, champion=CHAMPION, settings=SETTINGS):
    """The reference, its origin and the drift tables of ``SESSIONS`` (as the asset computes them)."""
    predictions = features.select("date", "symbol", pl.lit(0.0).alias("prediction"),
                                  pl.lit(1, dtype=pl.Int32).alias("horizon"))
    predictions = predictions.with_columns(pl.col("prediction") + pl.col("date").dt.day() * 1e-4)
    reference, origin = cached_champion_reference(
        champion, model_name=NAME, horizon=1, features=features, prices=prices, calendar=CALENDAR,
        tracking=None, settings=settings, cache=None if root is None else ReferenceCache(str(root)),
    )
    realized = realized_returns(prices, [1], SESSIONS[-1])
    tables = [session_drift(reference, session=s, features=features, predictions=predictions, realized=realized,
                            calendar=CALENDAR, settings=settings).table for s in SESSIONS]
    return reference, origin, pl.concat(tables, how="diagonal_relaxed")


def _assert_same_reference(a, b) -> None:
    assert (a.first_session, a.last_session, a.features.columns) == (b.first_session, b.last_session,
                                                                    b.features.columns)
    assert a.features.sorted_values.shape == b.features.sorted_values.shape
    assert np.array_equal(a.features.sorted_values, b.features.sorted_values, equal_nan=True)
    assert np.array_equal(a.features.n_valid, b.features.n_valid)
    assert np.array_equal(a.features.std, b.features.std)
    for name in ("reference_severity", "feature_rows", "predictions", "target"):
        assert_frame_equal(getattr(a, name), getattr(b, name))


def test_a_warm_cache_gives_the_same_drift_as_a_cold_one_and_as_no_cache(tmp_path, market, fake_model):
    prices, features = market
    _store(tmp_path, "feature_table", features)
    _store(tmp_path, "validated_prices", prices)

    built, none, uncached = _report(None, prices, features)
    assert not none.cached and none.path is None
    cold_ref, cold, cold_table = _report(tmp_path, prices, features)
    warm_ref, warm, warm_table = _report(tmp_path, prices, features)

    assert (cold.cached, warm.cached) == (False, True)
    assert cold.path == warm.path and (Path(warm.path) / "entry.json").exists()
    assert Path(warm.path).relative_to(tmp_path / "drift_reference" / NAME).name.startswith("3-")
    assert fake_model == ["3", "3"]  # scored without the cache and cold: not warm
    assert "read from the cache" in warm.describe() and "built in" in cold.describe()
    _assert_same_reference(built, warm_ref)
    _assert_same_reference(cold_ref, warm_ref)
    assert_frame_equal(uncached, cold_table)
    assert_frame_equal(cold_table, warm_table)  # exactly: the same floats
    assert cold_table.filter(pl.col("kind") == "feature").height == len(SESSIONS) * len(FEATURES)
    assert not list((tmp_path / "drift_reference" / NAME).glob(".*tmp*"))  # the temporary directory is gone


def test_a_changed_input_is_not_served_from_the_cache(tmp_path, market, fake_model):
    prices, features = market
    _store(tmp_path, "feature_table", features)
    _store(tmp_path, "validated_prices", prices)
    first, origin, _ = _report(tmp_path, prices, features)
    assert not origin.cached and _report(tmp_path, prices, features)[1].cached

    # another champion version with the same cut-off: its own entry
    other = ChampionRecord("4", CHAMPION.train_end, {}, run_id="run-4")
    ref4, origin4, _ = _report(tmp_path, prices, features, champion=other)
    assert not origin4.cached and origin4.path != origin.path
    assert not ref4.predictions["prediction"].equals(first.predictions["prediction"])

    # other settings (the calibration blocks depend on the window)
    assert not _report(tmp_path, prices, features, settings=DriftSettings(window=12, reference_sessions=60))[1].cached

    # a reference session re-materialized with other values: rebuilt from the new data, not the stored entry
    session = monitoring.reference_window(CHAMPION, CALENDAR, SETTINGS)[5]
    changed = features.with_columns(
        pl.when(pl.col("date") == session).then(pl.col("std_20") * 3).otherwise(pl.col("std_20")).alias("std_20"))
    _store(tmp_path, "feature_table", changed.filter(pl.col("date") == session))
    rebuilt, origin_changed, table_changed = _report(tmp_path, prices, changed)
    assert not origin_changed.cached and origin_changed.path != origin.path
    fresh, _, table_fresh = _report(None, prices, changed)
    _assert_same_reference(fresh, rebuilt)
    assert_frame_equal(table_fresh, table_changed)
    assert not np.array_equal(first.features.sorted_values, rebuilt.features.sorted_values, equal_nan=True)

    # validated prices of a reference session rewritten (same bytes, new file): the target may differ, rebuilt
    path = tmp_path / "validated_prices" / f"{session.isoformat()}.parquet"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert not _report(tmp_path, prices, changed)[1].cached
    assert _report(tmp_path, prices, changed)[1].cached


def test_an_incomplete_entry_is_rebuilt(tmp_path, market, fake_model):
    prices, features = market
    _store(tmp_path, "feature_table", features)
    _store(tmp_path, "validated_prices", prices)
    reference, origin, table = _report(tmp_path, prices, features)
    (Path(origin.path) / "entry.json").unlink()  # e.g. an object store's upload cut short
    again, origin2, table2 = _report(tmp_path, prices, features)
    assert not origin2.cached and (Path(origin2.path) / "entry.json").exists()
    assert_frame_equal(table, table2)


def test_the_session_metadata_says_whether_the_reference_was_cached(tmp_path, market, fake_model):
    from market_assets.defs.assets.monitoring import drift_metadata

    prices, features = market
    predictions = features.select("date", "symbol", pl.lit(0.0).alias("prediction"),
                                  pl.lit(1, dtype=pl.Int32).alias("horizon"))
    reference, origin, _ = _report(tmp_path, prices, features)
    drift = session_drift(reference, session=SESSIONS[-1], features=features, predictions=predictions,
                          realized=realized_returns(prices, [1], SESSIONS[-1]), calendar=CALENDAR, settings=SETTINGS)
    assert drift_metadata(drift, reference, None, cached=origin.cached)["reference_cached"].value is False
    assert drift_metadata(drift, reference, None, cached=True)["reference_cached"].value is True
