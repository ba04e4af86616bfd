"""Does the default model find a planted signal, and nothing in a random walk?

A weekly walk-forward on the synthetic market (demo size: 50 symbols,
2024-01-02 .. 2025-12-31, the feature table's ~300 features, label
``fwd_ret_1``): for each of ``--weeks`` weeks ``W`` (starting on Sundays, like
the ``trained_model`` partitions) a model is trained on labels closed before
``W`` with :func:`market_assets.quant.training.split_periods` and
:func:`~market_assets.quant.training.fit_and_validate` (horizon 1, embargo 5,
60 validation sessions), then predicts the sessions of ``W``.  Printed per
model variant: the mean daily out-of-sample rank IC over those sessions, its
t-statistic ``mean / std * sqrt(n)`` (``n`` sessions, ``ddof=1``), the
planted predictor's own rank IC on the same sessions (the ceiling,
:func:`market_assets.sources.synthetic.planted_predictor`), and the penalties
the CV chose.  Then the same on a random walk (``signal_strength=0``).

Variants
--------
``default``
    ``fit_and_validate`` as it is: ``make_model("ridge", ...)`` fitted with
    the plain ``fit(X, y)``, so the ridge's CV folds fall back to row
    positions and it is not fitted cross-sectionally.
``default+dates``
    The same default ridge given what ``fit_and_validate`` knows but does not
    pass yet: ``make_model(..., {"horizon": 1, "embargo": 5})`` and
    ``fit_model(model, X, y, train.meta["date"])`` (session folds, purged,
    cross-sectional fit).
``alpha=1``
    The previous default, ``params={"alpha": 1.0}``.

    .venv/bin/python benchmarks/bench_default_model_signal.py [--symbols 50] [--weeks 24]
        [--variants default default+dates alpha=1] [--signals 0.1 0.0] [--seed 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import polars as pl

from market_assets.quant import metrics
from market_assets.quant.features import FEATURE_SPECS, compute_features
from market_assets.quant.labels import compute_labels
from market_assets.quant.models import fit_model, make_model
from market_assets.quant.training import TrainingSpec, fit_and_validate, split_periods
from market_assets.sources import build_source
from market_assets.sources.synthetic import planted_predictor

FEATURES = [name for name, spec in FEATURE_SPECS.items() if not spec.history_dependent]
START, END = dt.date(2024, 1, 2), dt.date(2025, 12, 31)
VARIANTS = ("default", "default+dates", "alpha=1")


def market(symbols: int, strength: float, seed: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Features, labels (horizon 1) and the planted predictor of one synthetic market."""
    source = build_source("synthetic", seed=seed, n_symbols=symbols, signal_strength=strength, start=START, end=END)
    prices = source.fetch(START, END)
    return compute_features(prices, features=FEATURES), compute_labels(prices, horizons=[1]), planted_predictor(prices)


def weeks(labels: pl.DataFrame, n_weeks: int) -> list[dt.date]:
    """The last ``n_weeks`` Sundays whose whole week has labels."""
    last = labels.drop_nulls("fwd_ret_1")["date"].max()
    sunday = last - dt.timedelta(days=(last.weekday() + 1) % 7)
    if sunday + dt.timedelta(days=6) > last:
        sunday -= dt.timedelta(days=7)
    return [sunday - dt.timedelta(weeks=k) for k in range(n_weeks)][::-1]


def fitted_model(variant: str, features: pl.DataFrame, labels: pl.DataFrame, week: dt.date,
                 sessions: list[dt.date]):
    """(model, feature columns) of ``variant`` trained for use from ``week`` on."""
    params = {"alpha": 1.0} if variant == "alpha=1" else {}
    spec = TrainingSpec(model_name="ridge", horizon=1, embargo=5, validation_sessions=60, params=params)
    train, validation = split_periods(features, labels, spec, week, sessions)
    if variant != "default+dates":
        return fit_and_validate(train, validation, spec).model, train.X.columns
    model = make_model(spec.model_name, spec.task, {**spec.params, "horizon": spec.horizon, "embargo": spec.embargo},
                       spec.random_state)
    return fit_model(model, train.X.to_pandas(), train.y, train.meta["date"].to_numpy()), train.X.columns


def t_stat(ic: np.ndarray) -> float:
    return float(ic.mean() / ic.std(ddof=1) * np.sqrt(ic.size))


def walk_forward(variant: str, features: pl.DataFrame, labels: pl.DataFrame, planted: pl.DataFrame,
                 n_weeks: int) -> str:
    """One line: the variant's out-of-sample rank IC against the planted predictor's."""
    sessions = features["date"].unique().sort().to_list()
    started, frames, alphas = time.perf_counter(), [], []
    for week in weeks(labels, n_weeks):
        model, columns = fitted_model(variant, features, labels, week, sessions)
        alphas.append(getattr(model[-1], "alpha_", getattr(model[-1], "alpha", float("nan"))))
        rows = features.filter(pl.col("date").is_between(week, week + dt.timedelta(days=6)))
        frames.append(rows.select("date", "symbol").with_columns(y_pred=model.predict(rows.select(columns).to_pandas())))
    scored = (
        pl.concat(frames).join(labels.select("date", "symbol", "fwd_ret_1"), on=["date", "symbol"])
        .join(planted, on=["date", "symbol"], how="left").drop_nulls(["fwd_ret_1", "predictor"])
    )
    model_ic, planted_ic = (
        metrics.daily_ic(scored["date"], scored["fwd_ret_1"], scored[c], method="spearman")["ic"].to_numpy()
        for c in ("y_pred", "predictor")
    )
    chosen = ", ".join(f"{a:.0e}" for a in sorted(set(alphas)))
    return (f"  {variant:<14} rank IC {model_ic.mean():+.4f} (t {t_stat(model_ic):+5.2f})   "
            f"planted {planted_ic.mean():+.4f} (t {t_stat(planted_ic):+5.2f})   "
            f"{model_ic.size} sessions, {n_weeks} models, alpha {{{chosen}}}, {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--weeks", type=int, default=24)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--signals", nargs="+", type=float, default=[0.1, 0.0], help="signal_strength values")
    parser.add_argument("--seed", type=int, default=7, help="synthetic market seed (the source's default)")
    args = parser.parse_args()
    for strength in args.signals:
        features, labels, planted = market(args.symbols, strength, args.seed)
        print(f"synthetic market seed {args.seed}, signal_strength={strength}, {args.symbols} symbols, "
              f"{START} .. {END}, {features.width - 2} features")
        for variant in args.variants:
            print(walk_forward(variant, features, labels, planted, args.weeks), flush=True)


if __name__ == "__main__":
    main()
