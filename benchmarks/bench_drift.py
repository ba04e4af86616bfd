"""Drift of one session's window: our Evidently-equivalent tests against Evidently's DataDriftPreset.

Run: ``python benchmarks/bench_drift.py [--symbols 500] [--reference-sessions 250]
[--current-sessions 20] [--evidently-columns N]``

Data: the synthetic market (``build_source("synthetic")``, seeded, planted
signal 0.1, a volatility/beta regime shift on the first current session so
that some features really drift) through ``compute_features`` (the ~300
features of ``feature_table``), with 260 sessions of warm-up before the
reference.  Reference: ``reference-sessions`` × symbols rows (the rows a
champion is trained on); current: the next ``current-sessions`` sessions.

Prints (a) our ``feature_drift`` on the frames, cold (the reference sorted in
the call) and warm (a ``profile_reference`` made once per champion), (b)
Evidently's ``Report([DataDriftPreset()]).run`` on the same columns (one run:
it takes minutes), their ratio, the largest score difference and the
agreement of tests and decisions; (c) prediction and target drift per
horizon; (d) the time of the Evidently HTML report on prediction, target and
the 10 most drifted features.  ``--no-shift`` gives a calm market: what
drifts there (price-level features) drifts every day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import polars as pl

WARMUP_SESSIONS = 260


def _timed(fn, repeat: int) -> tuple[float, object]:  # noqa: ANN001 - any callable
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def _peak_rss_gib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**30 if sys.platform == "darwin" else rss / 2**20


def _market(symbols: int, n_ref: int, n_cur: int, shift: bool) -> tuple[pl.DataFrame, list[dt.date], list[dt.date]]:
    """Prices and the reference and current sessions (current starts at the regime shift, if any)."""
    from market_assets.sources import build_source

    probe = build_source("synthetic", n_symbols=1, start="2019-01-02", end="2026-06-30")
    sessions = probe.fetch(dt.date(2019, 1, 2), dt.date(2026, 6, 30))["date"].unique().sort().to_list()
    needed = WARMUP_SESSIONS + n_ref + n_cur
    first, last = sessions[-needed], sessions[-1]
    source = build_source("synthetic", n_symbols=symbols, start="2019-01-02", end="2026-06-30",
                          regime_shift_date=sessions[-n_cur].isoformat() if shift else None, signal_strength=0.1)
    prices = source.fetch(first, last)
    days = sessions[-needed:]
    return prices, days[WARMUP_SESSIONS:WARMUP_SESSIONS + n_ref], days[-n_cur:]


def _compare(ours: pl.DataFrame, theirs: pl.DataFrame) -> dict[str, float]:
    joined = ours.join(theirs, on="column", suffix="_evidently")
    diff = (joined["score"] - joined["score_evidently"]).abs()
    decided = joined.with_columns(
        theirs_drifted=pl.struct("stattest_evidently", "score_evidently", "threshold_evidently").map_elements(
            lambda r: _drifted(r["stattest_evidently"], r["score_evidently"], r["threshold_evidently"]),
            return_dtype=pl.Boolean))
    return {"columns": joined.height, "max_abs_diff": float(diff.max()),
            "max_rel_diff": float((diff / joined["score_evidently"].abs().clip(1e-300)).max()),
            "same_test": int((joined["stattest"] == joined["stattest_evidently"]).sum()),
            "same_decision": int((decided["drifted"] == decided["theirs_drifted"]).sum())}


def _drifted(test: str, score: float, threshold: float) -> bool:
    from market_assets.quant.drift_stattests import is_drifted

    return is_drifted(test, score, threshold)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--reference-sessions", type=int, default=250)
    parser.add_argument("--current-sessions", type=int, default=20)
    parser.add_argument("--evidently-columns", type=int, default=None,
                        help="run Evidently on the first N feature columns only (default: all; 0 skips it)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs for ours")
    parser.add_argument("--no-shift", action="store_true", help="a calm market: no regime shift in the current window")
    args = parser.parse_args(argv)

    from market_assets.quant.drift import drift_by, feature_drift, most_drifted, numeric_columns, profile_reference
    from market_assets.quant.drift_report import evidently_scores, report_columns, write_drift_html
    from market_assets.quant.features import compute_features
    from market_assets.quant.performance import realized_returns
    from market_assets.sources.synthetic import planted_predictor

    t0 = time.perf_counter()
    prices, ref_days, cur_days = _market(args.symbols, args.reference_sessions, args.current_sessions,
                                          shift=not args.no_shift)
    features = compute_features(prices, output_dates=[*ref_days, *cur_days])
    t_features = time.perf_counter() - t0
    reference = features.filter(pl.col("date").is_in(ref_days))
    current = features.filter(pl.col("date").is_in(cur_days))
    columns = numeric_columns(reference)
    print(f"frames: reference {reference.height:,} rows ({len(ref_days)} sessions {ref_days[0]}..{ref_days[-1]}), "
          f"current {current.height:,} rows ({len(cur_days)} sessions from {cur_days[0]}"
          f"{'' if args.no_shift else ', the regime shift'}), "
          f"{len(columns)} feature columns; synthetic prices + compute_features in {t_features:.1f} s")

    t_cold, result = _timed(lambda: feature_drift(reference, current, columns), args.repeat)
    t_profile, profile = _timed(lambda: profile_reference(reference, columns), args.repeat)
    t_warm, warm = _timed(lambda: feature_drift(profile, current, columns), args.repeat)
    assert warm.table.equals(result.table)
    tests = dict(result.table.group_by("stattest").len().iter_rows())
    print(f"(a) ours, cold (reference sorted in the call): {t_cold:8.3f} s   best of {args.repeat}")
    print(f"    profile_reference once per champion      : {t_profile:8.3f} s")
    print(f"    ours, warm (profile given)               : {t_warm:8.3f} s")
    print(f"    tests used: {tests}; drifted {result.summary.n_drifted}/{result.summary.n_columns} "
          f"(share {result.summary.drifted_share:.3f}, dataset_drift={result.summary.dataset_drift})")
    print(f"    10 most drifted: {most_drifted(result.table, 10)}")

    n_ev = len(columns) if args.evidently_columns is None else args.evidently_columns
    if n_ev:
        t1 = time.perf_counter()
        import evidently.presets  # noqa: F401 - imported before timing: the first import takes seconds

        t_import = time.perf_counter() - t1
        subset = columns[:n_ev]
        ref_ev, cur_ev = reference.select(subset), current.select(subset)
        t1 = time.perf_counter()
        theirs, count = evidently_scores(ref_ev, cur_ev)
        t_ev = time.perf_counter() - t1
        if n_ev == len(columns):
            t_ours_subset, ours_subset, warm_note = t_cold, result, f", {t_ev / t_warm:,.0f}x warm"
        else:
            t_ours_subset, ours_subset = _timed(lambda: feature_drift(ref_ev, cur_ev), args.repeat)
            warm_note = ""
        cmp = _compare(ours_subset.table, theirs)
        print(f"(b) Evidently DataDriftPreset, {n_ev} columns (incl. to_pandas; import {t_import:.1f} s not "
              f"counted): {t_ev:8.1f} s   one run")
        print(f"    ratio Evidently / ours on the same {n_ev} columns: {t_ev / t_ours_subset:,.0f}x cold{warm_note}")
        print(f"    max |score diff| {cmp['max_abs_diff']:.2e} (max relative {cmp['max_rel_diff']:.2e}); same test "
              f"{cmp['same_test']}/{cmp['columns']}, same decision {cmp['same_decision']}/{cmp['columns']}; "
              f"DriftedColumnsCount {count['count']:.0f} vs ours {ours_subset.summary.n_drifted}")

    predictor = planted_predictor(prices).select("date", "symbol", pl.lit(1, dtype=pl.Int32).alias("horizon"),
                                                 (pl.col("predictor") * 0.002).alias("prediction"))
    pred_ref = predictor.filter(pl.col("date").is_in(ref_days))
    pred_cur = predictor.filter(pl.col("date").is_in(cur_days))
    t_pred, pred_drift = _timed(lambda: drift_by(pred_ref, pred_cur, value="prediction"), args.repeat)
    realized = realized_returns(prices, (1, 5, 20), cur_days[-1])
    t_target, target_drift = _timed(
        lambda: drift_by(realized.filter(pl.col("date").is_in(ref_days)),
                         realized.filter(pl.col("date").is_in(cur_days)), value="realized_return"), args.repeat)
    print(f"(c) prediction drift (h=1): {t_pred:.3f} s, {pred_drift.select('stattest', 'score', 'drifted').row(0)}; "
          f"target drift (realised returns, h=1,5,20): {t_target:.3f} s, "
          f"drifted {dict(target_drift.select('horizon', 'drifted').iter_rows())} "
          "(h=20: no window of the current sessions has closed yet)")

    keyed = ["date", "symbol"]
    shown = report_columns(result.table, always=("prediction", "realized_return"), n_features=10)
    ones = realized.filter(pl.col("horizon") == 1).select(*keyed, "realized_return")
    ref_html = reference.join(pred_ref.drop("horizon"), on=keyed, how="left").join(ones, on=keyed, how="left")
    cur_html = current.join(pred_cur.drop("horizon"), on=keyed, how="left").join(ones, on=keyed, how="left")
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t2 = time.perf_counter()
        path = write_drift_html(ref_html, cur_html, shown, Path(tmp) / "drift.html")
        t_html = time.perf_counter() - t2
        size = path.stat().st_size
    print(f"(d) Evidently HTML report, {len(shown)} columns (prediction, target, 10 most drifted): "
          f"{t_html:.1f} s, {size / 2**20:.1f} MiB")
    print(f"peak RSS: {_peak_rss_gib():.2f} GiB; numpy {np.__version__}, polars {pl.__version__}")


if __name__ == "__main__":
    main()
