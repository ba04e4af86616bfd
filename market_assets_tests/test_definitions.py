"""The code location loads, quickly, without the heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys

import dagster as dg

HEAVY = ("mlflow", "evidently", "great_expectations", "optuna", "xgboost", "lightgbm")


def test_definitions_load():
    from market_assets.definitions import defs

    dg.Definitions.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert {"raw_prices", "validated_prices", "price_rejections"} <= keys


def test_loading_the_code_location_imports_no_heavy_library():
    code = (
        "import sys, json; import market_assets.definitions; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_every_asset_and_check_describes_itself():
    from market_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert graph.get(key).description, f"{key.to_user_string()} has no description"
    for check_key in graph.asset_check_keys:
        spec = graph.get_check_spec(check_key)
        assert spec.description, f"check {check_key.name} has no description"
