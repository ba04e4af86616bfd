"""Score sessions with the champion trained before each of them (point in time).

The ``predictions`` asset calls :func:`predict_sessions` once per run.  For
each horizon, each session is served by the champion chosen by
:func:`market_assets.tracking.history.champion_for` (the latest promoted
version whose ``train_end`` is on or before the session); consecutive
sessions served by the same version are scored together.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from itertools import groupby

import polars as pl

from market_assets.tracking._session import TrackingConfig
from market_assets.tracking.history import ChampionRecord
from market_assets.workflow.features import model_features
from market_assets.workflow.training import Log, registered_model_name


class NoChampionError(LookupError):
    """No champion may serve a session: none trained before it, or only one too old."""


def predict_sessions(
    features: pl.DataFrame,
    sessions: Sequence[dt.date],
    *,
    tracking: TrackingConfig,
    task: str,
    horizons: Sequence[int],
    calendar: Sequence[dt.date],
    max_champion_age: int,
    log: Log,
) -> pl.DataFrame:
    """Predictions of every (session, symbol, horizon) in ``features`` for ``sessions``.

    Parameters
    ----------
    features : pl.DataFrame
        Feature rows of ``sessions`` (``date``, ``symbol``, feature columns).
    sessions : Sequence[datetime.date]
        Sorted sessions to score.
    tracking : TrackingConfig
        The MLflow registry holding ``registered_model_name(task, h)``.
    task : str
        ``regression`` | ``direction`` | ``five_class``.
    horizons : Sequence[int]
        Horizons with a registered champion.
    calendar : Sequence[datetime.date]
        Exchange sessions covering ``sessions`` and ``max_champion_age`` before them.
    max_champion_age : int
        A champion whose ``train_end`` precedes session ``t - max_champion_age``
        is refused: the caller's lineage only names models trained that recently.

    Returns
    -------
    pl.DataFrame
        ``date, symbol, horizon, prediction, model_version, model_train_end``, then
        ``interval_low/high`` (regression) or ``confidence`` and ``p_class_*``.

    Raises
    ------
    NoChampionError
        A session with no champion trained before it, or only a too old one.
    """
    from market_assets.tracking.history import champion_for, champion_history

    position = {session: i for i, session in enumerate(calendar)}
    frames = []
    for horizon in horizons:
        name = registered_model_name(task, horizon)
        history = champion_history(tracking, name)
        plan = [(champion_for(history, session), session) for session in sessions]
        for _, group in groupby(plan, key=lambda item: item[0].version if item[0] else None):
            group = list(group)
            version, days = group[0][0], [session for _, session in group]
            _check_servable(name, version, days, calendar, position, max_champion_age)
            rows = features.filter(pl.col("date").is_in(days))
            frames.append(predict_with_version(tracking, name, version, rows, task, horizon))
            log.info(f"{name} v{version.version} (trained to {version.train_end}) "
                     f"predicted {rows.height:,} rows for {days[0]} … {days[-1]}")
    return pl.concat(frames, how="diagonal_relaxed").sort("date", "horizon", "symbol")


def _check_servable(
    name: str, version: ChampionRecord | None, days: list[dt.date], calendar: Sequence[dt.date],
    position: dict[dt.date, int], max_age: int,
) -> None:
    if version is None:
        raise NoChampionError(
            f"no champion of {name} was trained before {days[0]}; materialize trained_model "
            "for an earlier week first (a prediction may only use a model trained before it)"
        )
    oldest = position[days[-1]] - max_age
    if oldest >= 0 and version.train_end < calendar[oldest]:
        raise NoChampionError(
            f"the champion of {name} for {days[-1]} is v{version.version}, trained for the week of "
            f"{version.train_end}: more than {max_age} sessions earlier, outside the weeks the "
            "predictions declare they read; retrain a recent week (and promote it) first"
        )


def predict_with_version(
    tracking: TrackingConfig, name: str, version: ChampionRecord, rows: pl.DataFrame, task: str, horizon: int
) -> pl.DataFrame:
    """Score ``rows`` with one model version after checking its input contract."""
    from market_assets.quant.dataset import model_input_check
    from market_assets.tracking.registry import load_model

    columns, required = model_features(tracking, version.run_id, version.tags)
    X = model_input_check(
        rows, columns, dict.fromkeys(columns, pl.Float64()), required=required
    ).to_pandas()
    model = load_model(tracking, name, version.version)
    out = rows.select("date", "symbol").with_columns(
        pl.lit(horizon, dtype=pl.Int32).alias("horizon"),
        pl.lit(f"{name}/{version.version}").alias("model_version"),
        pl.lit(version.train_end).alias("model_train_end"),
    )
    if task == "regression":
        prediction = model.predict(X)
        low, high = json.loads(version.tags["interval"])
        return out.with_columns(
            pl.Series("prediction", prediction, dtype=pl.Float64),
            pl.Series("interval_low", prediction + low, dtype=pl.Float64),
            pl.Series("interval_high", prediction + high, dtype=pl.Float64),
        )
    proba = model.predict_proba(X)
    classes = list(model.classes_)
    return out.with_columns(
        pl.Series("prediction", [float(classes[i]) for i in proba.argmax(axis=1)], dtype=pl.Float64),
        pl.Series("confidence", proba.max(axis=1), dtype=pl.Float64),
        *[pl.Series(f"p_class_{int(c)}", proba[:, i], dtype=pl.Float64) for i, c in enumerate(classes)],
    )
