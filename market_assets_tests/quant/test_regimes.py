"""Tests for market_assets.quant.regimes: market series, state naming, filtering."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from market_assets.quant.regimes import (
    RegimeModel,
    filtered_probabilities,
    fit_regime_model,
    market_series,
    regime_probabilities,
)

# Three phases: calm positive drift, volatile negative drift, medium flat.
PHASES = ((0.002, 0.005), (-0.004, 0.03), (0.0, 0.012))
PHASE_LEN = 150
START = date(2020, 1, 1)


def _prices(seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    common = np.concatenate([rng.normal(m, s, PHASE_LEN) for m, s in PHASES])
    days = [START + timedelta(days=i) for i in range(len(common) + 1)]
    frames = []
    for symbol in ("A", "B"):
        own = common + rng.normal(0, 0.001, len(common))
        frames.append(pl.DataFrame({"date": days, "symbol": symbol,
                                    "adj_close": 100 * np.exp(np.concatenate([[0.0], np.cumsum(own)]))}))
    return pl.concat(frames).sort("date", "symbol")


@pytest.fixture(scope="module")
def market() -> pl.DataFrame:
    return market_series(_prices())


@pytest.fixture(scope="module")
def model(market: pl.DataFrame) -> RegimeModel:
    return fit_regime_model(market, fit_end=market["date"].max(), n_init=2, random_state=0)


def test_market_series_golden() -> None:
    d = [date(2024, 1, 2) + timedelta(days=i) for i in range(4)]
    prices = pl.DataFrame({
        "date": [d[0], d[1], d[2], d[3], d[0], d[1], d[3]],  # B misses d2
        "symbol": ["A"] * 4 + ["B"] * 3,
        "adj_close": [100.0, 110.0, 99.0, 99.0, 50.0, 40.0, 60.0],
    })
    got = market_series(prices, vol_window=2)
    ret = [None, (np.log(1.1) + np.log(0.8)) / 2, np.log(0.9), 0.0]  # B's 2-session return is left out
    vol = [None, None, float(np.std(ret[1:3], ddof=1)), float(np.std(ret[2:4], ddof=1))]
    expected = pl.DataFrame({"date": d, "ret": ret, "vol": vol}, schema_overrides={"ret": pl.Float64})
    assert_frame_equal(got, expected, rel_tol=1e-12, abs_tol=1e-12)


def test_phases_are_recovered_as_bull_bear_sideways(model: RegimeModel, market: pl.DataFrame) -> None:
    assert sorted(model.state_names) == ["bear", "bull", "sideways"]
    mean_ret = model.means[:, 0]
    assert model.state_names[int(mean_ret.argmax())] == "bull"
    assert model.state_names[int(mean_ret.argmin())] == "bear"
    probs = regime_probabilities(model, market)
    assert probs.columns == ["date", "regime", "p_bull", "p_bear", "p_sideways"]
    np.testing.assert_allclose(probs.select("p_bull", "p_bear", "p_sideways").sum_horizontal(), 1.0)
    for k, expected in enumerate(["bull", "bear", "sideways"]):
        # Skip the first 30 sessions of a phase: the 20-session volatility needs time to move.
        lo, hi = START + timedelta(days=k * PHASE_LEN + 30), START + timedelta(days=(k + 1) * PHASE_LEN)
        regimes = probs.filter(pl.col("date").is_between(lo, hi))["regime"].to_list()
        name, count = Counter(regimes).most_common(1)[0]
        assert name == expected and count / len(regimes) > 0.8, (expected, Counter(regimes))


def test_probabilities_are_filtered_not_smoothed(model: RegimeModel, market: pl.DataFrame) -> None:
    probs = regime_probabilities(model, market).head(300)
    # Cut where the filtered state is least certain: there the future matters most to a smoother.
    cut = probs["date"][int(probs.select(pl.max_horizontal("p_bull", "p_bear", "p_sideways")).to_series().arg_min())]
    rng = np.random.default_rng(7)
    changed = market.with_columns(
        pl.when(pl.col("date") > cut).then(pl.Series(rng.normal(0, 0.05, market.height))).otherwise("ret")
        .alias("ret"),
        pl.when(pl.col("date") > cut).then(pl.Series(rng.uniform(0, 0.05, market.height))).otherwise("vol")
        .alias("vol"),
    )
    before = regime_probabilities(model, market)
    after = regime_probabilities(model, changed)
    past = pl.col("date") <= cut
    assert_frame_equal(before.filter(past), after.filter(past))  # bit for bit
    assert not before.filter(~past).equals(after.filter(~past))
    # The same change moves hmmlearn's smoothed probabilities before the cut: that is the leak avoided.
    hmm = _hmmlearn_model(model)
    smoothed_before = hmm.predict_proba(_standardised(model, market))
    smoothed_after = hmm.predict_proba(_standardised(model, changed))
    n_past = before.filter(past).height
    assert np.abs(smoothed_before[n_past - 1] - smoothed_after[n_past - 1]).max() > 1e-3


def test_forward_pass_matches_hmmlearn_at_the_last_observation(model: RegimeModel, market: pl.DataFrame) -> None:
    # At the last observation the smoothed and filtered distributions coincide.
    hmm = _hmmlearn_model(model)
    x = _standardised(model, market)
    ours = filtered_probabilities(model, x)
    for t in (0, 10, 57, 200, len(x) - 1):
        np.testing.assert_allclose(ours[t], hmm.predict_proba(x[: t + 1])[-1], atol=1e-9)


def test_fit_uses_only_data_up_to_fit_end(market: pl.DataFrame) -> None:
    fit_end = START + timedelta(days=300)
    changed = market.with_columns(
        pl.when(pl.col("date") > fit_end).then(pl.col("ret") * 5).otherwise("ret").alias("ret")
    )
    a = fit_regime_model(market, fit_end=fit_end, n_init=1)
    b = fit_regime_model(changed, fit_end=fit_end, n_init=1)
    for field in ("startprob", "transmat", "means", "covars", "feature_mean", "feature_scale"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.fit_end == fit_end and a.n_obs == market.filter(pl.col("date") <= fit_end).drop_nulls().height


def test_same_data_and_seed_give_identical_output(model: RegimeModel, market: pl.DataFrame) -> None:
    again = fit_regime_model(market, fit_end=market["date"].max(), n_init=2, random_state=0)
    assert_frame_equal(regime_probabilities(model, market), regime_probabilities(again, market))
    assert again.log_likelihood == model.log_likelihood


def test_errors_name_the_problem(market: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match="n_states 1"):
        fit_regime_model(market, fit_end=market["date"].max(), n_states=1)
    with pytest.raises(ValueError, match="only 11 complete market rows up to fit_end=2020-01-31"):
        fit_regime_model(market, fit_end=date(2020, 1, 31))
    with pytest.raises(ValueError, match="missing column"):
        regime_probabilities(RegimeModel.__new__(RegimeModel), market.drop("vol"))
    with pytest.raises(ValueError, match="adj_close -1.0 for 'A'"):
        market_series(pl.DataFrame({"date": [START], "symbol": ["A"], "adj_close": [-1.0]}))


def _standardised(model: RegimeModel, market: pl.DataFrame) -> np.ndarray:
    x = market.drop_nulls().select("ret", "vol").to_numpy()
    return (x - model.feature_mean) / model.feature_scale


def _hmmlearn_model(model: RegimeModel):
    from hmmlearn.hmm import GaussianHMM

    hmm = GaussianHMM(n_components=len(model.state_names), covariance_type="full")
    hmm.startprob_, hmm.transmat_ = model.startprob, model.transmat
    hmm.means_, hmm.covars_ = model.means, model.covars
    return hmm
