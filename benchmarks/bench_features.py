"""Feature-library speed and memory against TA-Lib, on one reproducible panel.

Run: ``python benchmarks/bench_features.py [--symbols 500] [--sessions 2520]``

Times (a) our TA-Lib-covered subset, (b) TA-Lib itself looping over symbols
for the same indicators (including the per-symbol split of the panel and the
assembly of the output frame, which any TA-Lib user must also do), (c) our
full feature set, and (d) the nightly case: the full set over a
``max_warmup()`` lookback with one output date; prints seconds, ratios,
rows/s and peak RSS.  Both sides read the same in-memory panel.  The subset
results are compared and dropped before (c), so the peak RSS is that of
the largest single run plus the input panel (a float64 full table is
1.26M x 304 x 8 B = 2.85 GiB by itself).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import time

import numpy as np
import polars as pl


def synthetic_panel(n_symbols: int, n_sessions: int, seed: int = 42) -> pl.DataFrame:
    """Random-walk OHLCV, symbols × weekdays, sorted by (date, symbol)."""
    rng = np.random.default_rng(seed)
    start = dt.date(2010, 1, 4)
    days = np.arange(n_sessions * 7 // 5 + 7)
    dates = [start + dt.timedelta(days=int(d)) for d in days]
    dates = [d for d in dates if d.weekday() < 5][:n_sessions]
    close = 50.0 * np.exp(np.cumsum(rng.standard_t(4, (n_symbols, n_sessions)) * 0.012, axis=1))
    open_ = close * np.exp(rng.normal(0, 0.006, close.shape))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.008, close.shape)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.008, close.shape)))
    volume = np.round(rng.lognormal(13, 0.5, close.shape))
    return pl.DataFrame({
        "date": np.tile(np.array(dates, dtype="datetime64[D]"), n_symbols),
        "symbol": np.repeat([f"S{k:04d}" for k in range(n_symbols)], n_sessions),
        "open": open_.ravel(), "high": high.ravel(), "low": low.ravel(), "close": close.ravel(),
        "adj_close": close.ravel(), "volume": volume.ravel(), "source": "synthetic",
    }).with_columns(pl.col("date").cast(pl.Date)).sort("date", "symbol")


def talib_loop(prices: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """The same indicators with TA-Lib, one symbol at a time (the usual way)."""
    import talib

    from market_assets.quant.features import FEATURE_SPECS

    frame = prices.sort("symbol", "date")
    factor = (frame["adj_close"] / frame["close"]).to_numpy()
    cols = {"open": frame["open"].to_numpy() * factor, "high": frame["high"].to_numpy() * factor,
            "low": frame["low"].to_numpy() * factor, "close": frame["adj_close"].to_numpy(),
            "volume": frame["volume"].to_numpy()}
    bounds = np.flatnonzero(frame["symbol"].rle_id().diff().fill_null(1).to_numpy())
    edges = [int(b) for b in bounds] + [frame.height]
    out = {n: np.empty(frame.height) for n in names}
    for start, stop in zip(edges[:-1], edges[1:]):
        arrays = {k: v[start:stop] for k, v in cols.items()}
        cache: dict[tuple, object] = {}
        for name in names:
            call = FEATURE_SPECS[name].talib
            key = (call.function, tuple(sorted(call.kwargs.items())))
            if key not in cache:
                cache[key] = getattr(talib, call.function)(*[arrays[i] for i in call.inputs], **call.kwargs)
            res = cache[key]
            out[name][start:stop] = res[call.output] if call.output is not None else res
    result = frame.select("date", "symbol").with_columns(pl.Series(n, v).fill_nan(None) for n, v in out.items())
    return result.sort("date", "symbol")


def _timed(fn, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None  # drop the previous result first: the peak holds one result, not two
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def _peak_rss_gib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**30 if sys.platform == "darwin" else rss / 2**20


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=2520)
    parser.add_argument("--repeat", type=int, default=2, help="best of N runs")
    args = parser.parse_args(argv)

    from market_assets.quant.features import FEATURE_SPECS, compute_features, feature_names, max_warmup

    prices = synthetic_panel(args.symbols, args.sessions)
    subset = [n for n, s in FEATURE_SPECS.items() if s.talib is not None]
    rows = prices.height
    t_ours, ours = _timed(lambda: compute_features(prices, features=subset), args.repeat)
    t_talib, ref = _timed(lambda: talib_loop(prices, subset), args.repeat)
    worst = max(
        float(np.nanmax(np.abs(ours[n].to_numpy() - ref[n].to_numpy())
                        / np.maximum(np.abs(ref[n].to_numpy()), 1e-6)))
        for n in subset
    )
    rss_subset = _peak_rss_gib()
    del ours, ref  # compared above; (c) is measured with the input panel alone alive
    t_full, full = _timed(lambda: compute_features(prices), args.repeat)
    assert full.height == rows
    del full
    rss = _peak_rss_gib()
    dates = prices["date"].unique().sort()
    window = prices.filter(pl.col("date") >= dates[max(0, len(dates) - max_warmup() - 1)])
    t_night, night = _timed(lambda: compute_features(window, output_dates=[dates[-1]]), args.repeat)
    print(f"panel: {args.symbols} symbols x {args.sessions} sessions = {rows:,} rows "
          f"(polars {pl.__version__}, best of {args.repeat})")
    print(f"(a) ours, TA-Lib subset ({len(subset)} features): {t_ours:8.3f} s  {rows / t_ours:12,.0f} rows/s")
    print(f"(b) TA-Lib loop over symbols (same {len(subset)}): {t_talib:8.3f} s  {rows / t_talib:12,.0f} rows/s")
    print(f"(c) ours, full set ({len(feature_names())} features): {t_full:8.3f} s  {rows / t_full:12,.0f} rows/s")
    print(f"(d) ours, full set, last {window['date'].n_unique()} sessions, output_dates = last session: "
          f"{t_night:8.3f} s  ({night.height} rows out)")
    print(f"ratio subset / TA-Lib      : {t_ours / t_talib:6.2f}  (goal <= 1.0)")
    print(f"ratio full / TA-Lib subset : {t_full / t_talib:6.2f}  (goal < 3)")
    print(f"max relative diff vs TA-Lib: {worst:.2e}  (denominator floored at 1e-6)")
    print(f"peak RSS after (a)+(b)     : {rss_subset:6.2f} GiB  (input, both subset outputs)")
    print(f"peak RSS                   : {rss:6.2f} GiB  (goal < 4; (c) runs with the input panel alone)")


if __name__ == "__main__":
    main()
