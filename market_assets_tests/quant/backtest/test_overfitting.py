"""Deflated Sharpe, PBO by CSCV, block bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from market_assets.quant.backtest.bootstrap import block_bootstrap_indices, bootstrap_intervals
from market_assets.quant.backtest.overfitting import (
    deflated_sharpe_from_moments, deflated_sharpe_ratio, detect_impossible_sharpe, expected_max_sharpe,
    probability_of_backtest_overfitting,
)


def test_deflated_sharpe_matches_the_papers_example():
    # Bailey & Lopez de Prado (2014), section 5: SR 2.5 a year over 5 years of 250 sessions, skew -3,
    # kurtosis 10, 100 trials with a variance of annual Sharpes of 0.5 -> DSR 0.9004
    dsr = deflated_sharpe_from_moments(2.5 / np.sqrt(250), 1250, -3.0, 10.0, n_trials=100, sharpe_variance=0.5 / 250)
    assert dsr == pytest.approx(0.9004, abs=1e-4)
    assert expected_max_sharpe(100, 0.5 / 250) * np.sqrt(250) == pytest.approx(1.7894, abs=1e-4)
    assert expected_max_sharpe(1, 1.0) == 0.0


def test_more_trials_deflate_more():
    rng = np.random.default_rng(0)
    r = rng.normal(0.001, 0.01, 500)
    one = deflated_sharpe_ratio(r)
    many = deflated_sharpe_ratio(r, n_trials=200, sharpe_variance=0.05 ** 2)
    assert 0.9 < one <= 1.0 and many < one
    with pytest.raises(ValueError, match="needs sharpe_variance"):
        deflated_sharpe_ratio(r, n_trials=5)


def test_pbo_of_noise_is_near_one_half_and_of_a_real_edge_near_zero():
    rng = np.random.default_rng(1)
    noise = rng.normal(0.0, 0.01, (1000, 20))
    assert 0.3 < probability_of_backtest_overfitting(noise, n_blocks=10).pbo < 0.7
    edge = noise.copy()
    edge[:, 3] += 0.003
    report = probability_of_backtest_overfitting(edge, n_blocks=10)
    assert report.pbo < 0.05
    assert report.n_splits == 252 and report.n_configs == 20
    with pytest.raises(ValueError, match="n_blocks=7; expected an even number"):
        probability_of_backtest_overfitting(noise, n_blocks=7)


def test_block_bootstrap_is_seeded_and_keeps_blocks():
    idx = block_bootstrap_indices(100, 5, block=10, random_state=3)
    assert idx.shape == (5, 100)
    steps = np.diff(idx, axis=1) % 100
    assert (steps[:, :9] == 1).all()  # inside a block the sessions are consecutive (circularly)
    np.testing.assert_array_equal(idx, block_bootstrap_indices(100, 5, block=10, random_state=3))
    rng = np.random.default_rng(4)
    r = rng.normal(0.0005, 0.01, 500)
    a, b = bootstrap_intervals(r, random_state=7), bootstrap_intervals(r, random_state=7)
    assert a == b
    assert a["sharpe"].low < a["sharpe"].estimate < a["sharpe"].high
    assert a["max_drawdown"].low <= a["max_drawdown"].estimate <= a["max_drawdown"].high <= 0


def test_impossible_sharpe_flags_and_explains():
    rng = np.random.default_rng(5)
    honest = rng.normal(0.0003, 0.01, 500)
    assert not detect_impossible_sharpe(honest).impossible
    verdict = detect_impossible_sharpe(np.abs(honest) * 0.5)
    assert verdict.impossible and "look-ahead" in verdict.reasons[0]
    with pytest.raises(ValueError, match=">= 60 sessions"):
        detect_impossible_sharpe(honest[:10])
