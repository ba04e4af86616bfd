"""Aliases are exact affine copies, families are monotone within every session, and none is missing."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from market_assets.quant.features import FEATURE_SPECS, compute_features, family_members
from market_assets.quant.indicators.registry import Alias, FeatureSpec, build_registry
from market_assets.quant.indicators.relations import ALIASES, with_relations

from .helpers import affine_pairs, cent_market, pairwise_corr

TOL = 1e-9


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    """Every feature of the registry on a 30-symbol, two-year synthetic market quoted in cents."""
    return compute_features(cent_market(), features=list(FEATURE_SPECS))


def _direction_within_sessions(table: pl.DataFrame, a: str, b: str) -> int:
    """+1 if ``b`` never decreases as ``a`` grows within any session, -1 if it never increases, else 0.

    On the rows where both are defined; steps against the direction of up to
    1e-9 relative are float rounding (``c / o - 1`` of two equal ratios can
    land an ulp apart, amplified by the subtraction) and do not count.
    """
    rows = table.select("date", pl.col(a).alias("a"), pl.col(b).alias("b")).drop_nulls().sort("date", "a")
    step = rows.select(
        pl.col("b").diff().over("date").alias("step"),
        (TOL * (pl.col("b").abs() + pl.col("b").shift().over("date").abs() + 1e-12)).alias("tol"),
    ).drop_nulls()
    if step.height < 100:
        return 0
    up = (step["step"] >= -step["tol"]).all()
    down = (step["step"] <= step["tol"]).all()
    return 1 if up and not down else -1 if down and not up else 0


def test_alias_list_and_descriptions() -> None:
    aliases = {n: s.alias_of for n, s in FEATURE_SPECS.items() if s.alias is not None}
    assert aliases == {n: a.canonical for n, a in ALIASES.items()}
    assert {"willr_14", "roc_pct_10", "kmid", "sumn_60", "vsumd_5"} <= set(aliases)
    assert not {"cntn_5", "cntd_5"} & set(aliases)  # cntp + cntn = 1 only without unchanged closes
    assert "willr_14 = stoch_fastk_14 - 100" in FEATURE_SPECS["willr_14"].description
    assert "sumd_5 = 2 * sump_5 - 1" in FEATURE_SPECS["sumd_5"].description
    assert "sumn_5 = 1 - sump_5" in FEATURE_SPECS["sumn_5"].description
    assert FEATURE_SPECS["ret_10"].alias is None and FEATURE_SPECS["ret_10"].alias_of is None


def test_aliases_equal_their_affine_map_row_by_row(table: pl.DataFrame) -> None:
    for name, alias in ALIASES.items():
        got, canonical = table[name], table[alias.canonical]
        assert got.is_null().to_list() == canonical.is_null().to_list(), name
        expected = alias.offset + alias.scale * canonical.drop_nulls().to_numpy()
        np.testing.assert_allclose(got.drop_nulls().to_numpy(), expected, rtol=TOL, atol=TOL, err_msg=name)


@pytest.mark.slow
def test_every_exactly_affine_pair_is_a_declared_alias(table: pl.DataFrame) -> None:
    names = list(FEATURE_SPECS)
    found = {frozenset((a, b)) for a, b, _ in affine_pairs(table, names)}
    spec = FEATURE_SPECS
    undeclared = [sorted(p) for p in found if len({spec[n].alias_of or n for n in p}) == 2]
    assert not undeclared, f"exact affine pairs not declared in relations.ALIASES: {undeclared}"
    assert found, "the search must find the declared aliases (willr_14 / stoch_fastk_14 ...)"


def test_family_members_are_monotone_within_every_session(table: pl.DataFrame) -> None:
    families = {f: m for f, m in family_members(FEATURE_SPECS).items() if len(m) > 1}
    pairs = [(family, member) for family, members in families.items() for member in members[1:]]
    assert len(pairs) >= 60
    not_monotone = [pair for pair in pairs if not _direction_within_sessions(table, *pair)]
    assert not not_monotone, f"declared in one family but not monotone within every session: {not_monotone}"


def test_the_monotone_check_can_fail(table: pl.DataFrame) -> None:
    assert _direction_within_sessions(table, "ret_5", "roc_5") == -1
    assert _direction_within_sessions(table, "ret_5", "ret_10") == 0
    assert _direction_within_sessions(table, "cntp_5", "cntn_5") == 0  # ties: not 1 - cntp


@pytest.mark.slow
def test_every_monotone_pair_is_in_one_family(table: pl.DataFrame) -> None:
    names = [n for n in FEATURE_SPECS if FEATURE_SPECS[n].group != "calendar"]  # constant within a session
    centred = table.select(
        (pl.col(n).rank("average") - pl.col(n).rank("average").mean()).over("date").alias(n) for n in names
    )
    corr = pairwise_corr(centred.to_numpy().astype(np.float64), min_rows=30)
    candidates = [(names[i], names[j]) for i, j in zip(*np.nonzero(np.triu(np.abs(np.nan_to_num(corr)) > 0.999, 1)))]
    monotone = [pair for pair in candidates if _direction_within_sessions(table, *pair)]
    outside = [(a, b) for a, b in monotone if FEATURE_SPECS[a].family != FEATURE_SPECS[b].family]
    assert not outside, f"monotone within every session but in different families: {outside}"
    assert len(monotone) >= 60


def _spec(name: str, **kwargs) -> FeatureSpec:
    return FeatureSpec(name, "test", f"{name}.", 0, kernel=lambda k: k["_c"], **kwargs)


def test_relations_refuse_unknown_names_and_chains() -> None:
    registry = build_registry([[_spec("a"), _spec("b"), _spec("c")]])
    with pytest.raises(ValueError, match=r"names unknown feature 'zz'"):
        with_relations(registry, {"a": Alias("zz")}, {})
    with pytest.raises(ValueError, match=r"aliases \['b'\] point at other aliases"):
        with_relations(registry, {"a": Alias("c"), "b": Alias("a")}, {})
    related = with_relations(registry, {"b": Alias("a", 2.0, 1.0)}, {"c": "b"})
    assert [related[n].family for n in "abc"] == ["a", "a", "a"]
    assert "b = 2 * a + 1" in related["b"].description
