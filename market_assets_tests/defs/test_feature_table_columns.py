"""The columns of ``feature_table``: no alias, no history-dependent feature, no exactly affine pair."""

from __future__ import annotations

import pytest

from market_assets.defs.assets.features import FEATURES
from market_assets.quant.features import FEATURE_SPECS, compute_features
from market_assets_tests.quant.indicators.helpers import affine_pairs, cent_market


def test_the_table_keeps_each_alias_once_as_its_canonical_feature() -> None:
    aliases = {n: s.alias_of for n, s in FEATURE_SPECS.items() if s.alias is not None}
    assert aliases and not set(aliases) & set(FEATURES)
    assert set(aliases.values()) <= set(FEATURES)
    assert not [n for n in FEATURES if FEATURE_SPECS[n].history_dependent]
    assert len(FEATURES) == len(FEATURE_SPECS) - len(aliases) - 4  # sar, close_to_sar, obv, ad


@pytest.fixture(scope="module")
def market():
    return cent_market(n_symbols=30)


def test_no_two_table_features_are_exactly_affinely_related(market) -> None:
    table = compute_features(market, features=FEATURES)
    pairs = affine_pairs(table, FEATURES)
    assert not pairs, f"feature_table holds exact affine copies (declare them in relations.ALIASES): {pairs}"


def test_the_affine_search_finds_a_planted_alias(market) -> None:
    table = compute_features(market, features=[*FEATURES[:40], "willr_14", "stoch_fastk_14"])
    found = {(a, b) for a, b, _ in affine_pairs(table, table.columns[2:])}
    assert ("willr_14", "stoch_fastk_14") in found or ("stoch_fastk_14", "willr_14") in found
