"""Judge a session: drift against the champion's reference, realised performance.

The ``drift_report`` and ``model_performance`` assets call these once per
session (a range run loops).  No dagster here.

Conventions
-----------
* The champion of session ``t`` is the one serving it
  (:func:`market_assets.tracking.history.champion_for`: the latest promoted
  version whose cut-off ``train_end`` is on or before ``t``).
* Its **reference** is the last ``reference_sessions`` sessions *before* its
  cut-off: the most recent rows it was trained on (the older ones matter less
  and would cost sorting time).  Reference predictions are the champion's own
  predictions on those rows; the reference target is the realised
  ``horizon``-session return of those sessions.
* The **current window** of session ``t`` is its last ``window`` sessions
  (``t`` included) of features and predictions; its target is the realised
  return of the last ``window`` sessions whose return is known at ``t``'s close.
* Scores are Evidently's default tests (:mod:`market_assets.quant.drift`);
  calendar features are left out (a 20-session window of ``month`` differs from
  any other by construction).
* **Calibrated decision.**  Market features are autocorrelated: a 20-session
  window of volatility differs from 120 sessions of it by Evidently's
  thresholds on a calm market (half of the features "drift" every day).  So a
  column drifts when its score passes Evidently's threshold *and* what the
  reference itself shows: the reference is cut into blocks of ``window``
  sessions, each block is scored against the rest, and the largest severity
  (how far past its threshold a score is; >= 1 is past) is the column's
  ``reference_severity``.  ``drifted`` is ``severity >= max(1,
  reference_severity)`` and strictly above the latter; ``drifted_by_evidently`` keeps Evidently's own
  decision.  On the synthetic market (50 symbols, all features) the drifted
  share stayed at 0.00-0.02 in the month before a regime shift and rose to
  0.38-0.53 in the six weeks after it, where Evidently's rule gave 0.51-0.57
  before and 0.59-0.68 after.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from market_assets.quant.drift import DriftSummary, ReferenceProfile, feature_drift, profile_reference
from market_assets.tracking._session import TrackingConfig
from market_assets.tracking.history import ChampionRecord

#: Feature groups never tested for drift (they differ between windows by construction).
UNTESTED_GROUPS: tuple[str, ...] = ("calendar",)


@dataclass(frozen=True)
class DriftSettings:
    """How a session's drift is measured and judged."""

    window: int = 20
    reference_sessions: int = 120
    max_drifted_share: float = 0.3
    max_report_features: int = 10


@dataclass(frozen=True, eq=False)
class ChampionReference:
    """What a champion's sessions are compared with (built once per champion; cached across runs by
    :mod:`market_assets.workflow.drift_reference_cache`)."""

    champion: ChampionRecord
    model_name: str
    horizon: int
    first_session: dt.date
    last_session: dt.date
    features: ReferenceProfile
    reference_severity: pl.DataFrame = field(repr=False)  #: column, reference_severity
    feature_rows: pl.DataFrame = field(repr=False)
    predictions: pl.DataFrame = field(repr=False)
    target: pl.DataFrame = field(repr=False)


@dataclass(frozen=True)
class SessionDrift:
    """The drift of one session against its champion's reference."""

    session: dt.date
    table: pl.DataFrame                 #: ``kind, column, stattest, score, threshold, drifted, …``
    features: DriftSummary
    prediction: dict[str, object]       #: score, threshold, drifted, stattest (empty: untested, < half a window)
    target: dict[str, object]
    current_features: pl.DataFrame = field(repr=False)
    current_predictions: pl.DataFrame = field(repr=False)
    current_target: pl.DataFrame = field(repr=False)

    @property
    def feature_drift_detected(self) -> bool:
        return self.features.n_columns > 0 and self.features.dataset_drift


def tested_features(columns: Sequence[str]) -> list[str]:
    """The model's feature columns that drift is measured on (calendar features left out)."""
    from market_assets.quant.features import FEATURE_SPECS

    return [c for c in columns if c not in FEATURE_SPECS or FEATURE_SPECS[c].group not in UNTESTED_GROUPS]


def reference_window(champion: ChampionRecord, calendar: Sequence[dt.date], settings: DriftSettings) -> list[dt.date]:
    """The sessions of ``champion``'s reference: its last ``reference_sessions`` sessions before its cut-off."""
    before = [s for s in calendar if s < champion.train_end]
    return before[-settings.reference_sessions:]


def reference_rows(
    champion: ChampionRecord, *, model_name: str, features: pl.DataFrame, calendar: Sequence[dt.date],
    settings: DriftSettings,
) -> pl.DataFrame:
    """The rows of ``features`` in :func:`reference_window` (all columns).

    Raises
    ------
    LookupError
        When ``features`` hold no session before the champion's cut-off.
    """
    rows = features.filter(pl.col("date").is_in(reference_window(champion, calendar, settings)))
    if rows.is_empty():
        raise LookupError(
            f"no feature_table session before {champion.train_end} (the cut-off of {model_name} "
            f"v{champion.version}) is loaded; materialize feature_table for the {settings.reference_sessions} "
            "sessions before it"
        )
    return rows


def champion_reference(
    champion: ChampionRecord, *, model_name: str, horizon: int, features: pl.DataFrame, prices: pl.DataFrame,
    calendar: Sequence[dt.date], tracking: TrackingConfig, settings: DriftSettings,
) -> ChampionReference:
    """The reference of ``champion``: its last ``reference_sessions`` training sessions.

    Built from scratch (predictions, profile, block calibration: seconds to
    minutes); :func:`market_assets.workflow.drift_reference_cache.cached_champion_reference`
    builds it once per champion and reads it back on later runs.

    Raises
    ------
    LookupError
        When ``features`` hold no session before the champion's cut-off.
    """
    rows = reference_rows(champion, model_name=model_name, features=features, calendar=calendar, settings=settings)
    return build_reference(champion, rows, model_name=model_name, horizon=horizon, prices=prices,
                           tracking=tracking, settings=settings)


def build_reference(
    champion: ChampionRecord, rows: pl.DataFrame, *, model_name: str, horizon: int, prices: pl.DataFrame,
    tracking: TrackingConfig, settings: DriftSettings,
) -> ChampionReference:
    """:func:`champion_reference` from its :func:`reference_rows` (the expensive part)."""
    from market_assets.quant.performance import realized_returns
    from market_assets.workflow.features import model_features
    from market_assets.workflow.prediction import predict_with_version

    columns, _ = model_features(tracking, champion.run_id, champion.tags)
    tested = tested_features(columns)
    predictions = predict_with_version(tracking, model_name, champion, rows, "regression", horizon)
    dates = rows["date"].unique().sort()
    target = realized_returns(prices.filter(pl.col("date") <= dates[-1]), [horizon], dates[-1])
    predictions = predictions.select("date", "symbol", "prediction")
    target = target.filter(pl.col("date").is_in(dates.implode())).select("date", "symbol", "realized_return")
    severity = pl.concat([
        reference_severity(rows.select("date", "symbol", *tested), tested, settings.window),
        reference_severity(predictions, ["prediction"], settings.window),
        reference_severity(target, ["realized_return"], settings.window),
    ])
    return ChampionReference(
        champion=champion, model_name=model_name, horizon=horizon, first_session=dates[0],
        last_session=dates[-1], features=profile_reference(rows, tested), reference_severity=severity,
        feature_rows=rows.select("date", "symbol", *tested), predictions=predictions, target=target,
    )


def reference_severity(rows: pl.DataFrame, columns: Sequence[str], window: int) -> pl.DataFrame:
    """Per column, the largest drift severity of a ``window``-session block of ``rows`` against the rest.

    What the reference shows of itself: a current window must drift more than
    this to count (see the module docstring).  Fewer than two blocks: 0.
    """
    dates = rows.get_column("date").unique().sort().to_list()
    blocks = [dates[i:i + window] for i in range(0, len(dates) - window + 1, window)]
    frames = []
    if len(blocks) >= 2:
        for block in blocks:
            inside = pl.col("date").is_in(block)
            frames.append(feature_drift(rows.filter(~inside), rows.filter(inside), list(columns))
                          .table.select("column", "severity"))
    if not frames:
        return pl.DataFrame({"column": list(columns), "reference_severity": [0.0] * len(columns)})
    return (pl.concat(frames).group_by("column", maintain_order=True)
            .agg(pl.col("severity").fill_nan(None).max().fill_null(0.0).alias("reference_severity")))


def session_drift(
    reference: ChampionReference, *, session: dt.date, features: pl.DataFrame, predictions: pl.DataFrame,
    realized: pl.DataFrame, calendar: Sequence[dt.date], settings: DriftSettings,
) -> SessionDrift:
    """Feature, prediction and target drift of ``session``'s window against ``reference``.

    ``realized`` is :func:`market_assets.quant.performance.realized_returns` of the
    champion's horizon for any evaluation day on or after ``session`` (one per run):
    only the returns known at ``session``'s close are used.
    """
    upto = [s for s in calendar if s <= session]
    window = upto[-settings.window:]
    current = features.filter(pl.col("date").is_in(window)).select("date", "symbol", *reference.features.columns)
    result = feature_drift(reference.features, current, list(reference.features.columns))
    features = calibrated(result.table, reference.reference_severity)
    served = predictions.filter(pl.col("date").is_in(window) & (pl.col("horizon") == reference.horizon))
    # A window holding a few sessions of predictions (the first evenings of a
    # champion) would drift by sampling noise alone: half a window is needed.
    enough = served.get_column("date").n_unique() >= max(2, settings.window // 2)
    prediction = (_one_column(reference.predictions, served, "prediction", reference.reference_severity)
                  if enough else {})
    realised = realized.filter((pl.col("known_at") <= session) & (pl.col("horizon") == reference.horizon))
    known = realised.get_column("date").unique().sort().tail(settings.window)
    target_rows = realised.filter(pl.col("date").is_in(known.implode()))
    target = _one_column(reference.target, target_rows, "realized_return", reference.reference_severity)
    table = pl.concat([
        features.select(pl.lit("feature").alias("kind"), pl.all()),
        *[_kind_rows(kind, summary) for kind, summary in (("prediction", prediction), ("target", target)) if summary],
    ], how="diagonal_relaxed").with_columns(pl.lit(session).alias("date"))
    return SessionDrift(
        session=session, table=table.select("date", *[c for c in table.columns if c != "date"]),
        features=summarise(features, settings.max_drifted_share), prediction=prediction, target=target,
        current_features=current,
        current_predictions=served.select("date", "symbol", "prediction"),
        current_target=target_rows.select("date", "symbol", "realized_return"),
    )


def calibrated(table: pl.DataFrame, severity: pl.DataFrame) -> pl.DataFrame:
    """``table`` with ``reference_severity``, the calibrated ``drifted`` and ``drifted_by_evidently``."""
    joined = table.join(severity, on="column", how="left").with_columns(pl.col("reference_severity").fill_null(0.0))
    return joined.with_columns(
        pl.col("drifted").alias("drifted_by_evidently"),
        pl.when(pl.col("drifted").is_null()).then(None)
        .otherwise((pl.col("severity") >= 1.0) & (pl.col("severity") > pl.col("reference_severity")))
        .alias("drifted"),
    )


def summarise(table: pl.DataFrame, max_drifted_share: float) -> DriftSummary:
    """Share of tested columns that drifted (calibrated); drift when it reaches ``max_drifted_share``."""
    tested = table.filter(pl.col("drifted").is_not_null())
    n, drifted = tested.height, int(tested.get_column("drifted").sum())
    share = drifted / n if n else 0.0
    return DriftSummary(
        n_columns=n, n_drifted=drifted, drifted_share=share, dataset_drift=bool(n and share >= max_drifted_share),
        drift_share=max_drifted_share,
        untested=tuple(table.filter(pl.col("drifted").is_null()).get_column("column").to_list()),
    )


def _one_column(reference: pl.DataFrame, current: pl.DataFrame, column: str,
                severity: pl.DataFrame) -> dict[str, object]:
    """Calibrated drift of one column, as plain values; empty when either side has no value."""
    ref, cur = reference.select(column).drop_nulls(), current.select(column).drop_nulls()
    if ref.is_empty() or cur.is_empty():
        return {}
    row = calibrated(feature_drift(ref, cur, [column]).table, severity).row(0, named=True)
    return {k: row[k] for k in ("column", "stattest", "score", "threshold", "severity", "reference_severity",
                                "drifted", "drifted_by_evidently", "n_reference", "n_current")}


def _kind_rows(kind: str, summary: dict[str, object]) -> pl.DataFrame:
    return pl.DataFrame([{"kind": kind, **summary}])


def report_frames(reference: ChampionReference, drift: SessionDrift, columns: Sequence[str]):
    """(reference, current) frames holding ``columns`` for Evidently's HTML report.

    Features, prediction and target are stacked as separate rows (each side's
    columns are null elsewhere): Evidently drops nulls per column.
    """
    def side(features: pl.DataFrame, predictions: pl.DataFrame, target: pl.DataFrame) -> pl.DataFrame:
        wanted = [c for c in columns if c in features.columns]
        return pl.concat(
            [features.select(wanted), predictions.select("prediction"), target.select("realized_return")],
            how="diagonal_relaxed",
        ).select([c for c in columns])

    return (side(reference.feature_rows, reference.predictions, reference.target),
            side(drift.current_features, drift.current_predictions, drift.current_target))
