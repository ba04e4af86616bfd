"""Freshness: the latest session of the nightly assets is materialized soon after the exchange close.

Dagster's time-partition freshness checks fail when, at the deadline, the
latest session partition (the partitions are sessions: holidays have none) has
not been materialized.  The deadline is a cron in the exchange's time zone
(``MARKET_ASSETS_FRESHNESS_DEADLINE``, default 20:30 on weekdays: two hours
after the 18:30 nightly run).  Their sensor is stopped by default, like the
schedules it watches: start both in the UI.
"""

import warnings

import dagster as dg

from market_assets.calendars import calendar_timezone
from market_assets.settings import load_settings

SETTINGS = load_settings()

# Dagster 1.13 marks these builders superseded by FreshnessPolicy, whose results are
# freshness states, not check evaluations; the checks are kept because the alert
# sensor and the UI's check history read check results.  Silenced here only.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.SupersessionWarning)
    FRESHNESS_CHECKS = dg.build_time_partition_freshness_checks(
        assets=["validated_prices", "feature_table", "predictions", "model_performance", "drift_report"],
        deadline_cron=SETTINGS.freshness_deadline_cron,
        timezone=calendar_timezone(SETTINGS.calendar, SETTINGS.start_date),
        severity=dg.AssetCheckSeverity.WARN,
    )
    freshness_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=FRESHNESS_CHECKS, name="freshness_checks_sensor",
        default_status=dg.DefaultSensorStatus.STOPPED,
    )
