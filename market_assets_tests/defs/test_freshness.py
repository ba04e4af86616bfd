"""Freshness checks fail when the latest session was not materialized by the deadline."""

import datetime as dt

import dagster as dg

from market_assets.defs.checks.freshness import FRESHNESS_CHECKS
from market_assets.definitions import defs
from market_assets.settings import load_settings


def test_freshness_covers_the_nightly_assets():
    keys = {key.asset_key.to_user_string() for checks in FRESHNESS_CHECKS for key in checks.check_keys}
    assert keys == {"validated_prices", "feature_table", "predictions", "model_performance", "drift_report"}


def test_a_stale_session_fails_and_a_fresh_one_passes():
    checks = list(FRESHNESS_CHECKS)
    sessions = defs.resolve_assets_def("drift_report").partitions_def
    monitored = [dg.AssetSpec(name, partitions_def=sessions) for name in
                 ("validated_prices", "feature_table", "predictions", "model_performance", "drift_report")]
    deadline = dt.datetime(2025, 3, 14, 21, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4)))  # after 20:30 New York
    with dg.instance_for_test() as instance:
        def evaluate():
            from dagster._time import get_current_timestamp  # noqa: F401 - evaluation time comes from the freeze below
            from dagster._core.test_utils import freeze_time

            with freeze_time(deadline):
                result = dg.materialize([*monitored, *checks], instance=instance, selection=dg.AssetSelection.checks(*checks))
            return {e.asset_key.to_user_string(): e.passed for e in result.get_asset_check_evaluations()}

        assert set(evaluate().values()) == {False}  # nothing materialized for 2025-03-14
        instance.report_runless_asset_event(dg.AssetMaterialization("drift_report", partition="2025-03-14"))
        verdicts = evaluate()
        assert verdicts.pop("drift_report") is True and set(verdicts.values()) == {False}
    assert load_settings().freshness_deadline_cron == "30 20 * * 1-5"
