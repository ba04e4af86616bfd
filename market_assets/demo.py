"""The demo: the synthetic market's last two years through every asset, as named jobs.

``python -m market_assets.demo`` (what ``make demo`` runs) materializes, into
the instance of ``$DAGSTER_HOME``:

1. ``features_job`` over the demo window (prices, regimes, features: one run);
2. ``labels_job`` over the sessions whose longest label window has closed;
3. ``training_job`` over the last weeks (a walk-forward, one run);
4. ``predictions_job`` over the sessions of those weeks;
5. ``monitoring_job`` (``model_performance``, ``drift_report``) over the same sessions;
6. ``backtest_job``: the walk-forward's backtest of those predictions (``backtest_results``
   per session, ``backtest_summary`` with the equity curve, cost sweep, deflated Sharpe and
   quantile returns).

The demo market's regime shifts a few weeks before the weekly models start
(:func:`market_assets.settings.demo_regime_shift`), so drift checks fail after
it and the retrain sensor, running in ``dagster dev``, starts a retrain.

The window ends at the last session that closed before today, so the UI opens
on an up-to-date history and the nightly schedule carries it on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import time
from dataclasses import dataclass

from market_assets.calendars import sessions_between
from market_assets.quant.labels import MAX_HORIZON, last_labelable_session

log = logging.getLogger("market_assets.demo")


@dataclass(frozen=True)
class DemoWindow:
    """The partitions the demo materializes (session dates; weeks start on Sunday)."""

    start: dt.date
    end: dt.date
    labels_end: dt.date
    first_week: dt.date
    last_week: dt.date

    @property
    def predictions_start(self) -> dt.date:
        """Predictions cover the sessions of the trained weeks."""
        return self.first_week


def demo_window(today: dt.date, calendar: str, start: dt.date, weeks: int = 9) -> DemoWindow:
    """The demo's partitions: ``start`` … the last session before ``today``.

    Labels stop where the longest horizon's window last closed; the ``weeks``
    weekly models end with the week holding the last session.
    """
    sessions = sessions_between(calendar, start, today - dt.timedelta(days=1))
    if len(sessions) < 300:
        raise ValueError(
            f"the demo needs at least 300 {calendar} sessions between MARKET_ASSETS_START={start} and "
            f"{today}; found {len(sessions)}. Set MARKET_ASSETS_START about two years back."
        )
    end = sessions[-1]
    labels_end = last_labelable_session(sessions, end, MAX_HORIZON)
    last_week = end - dt.timedelta(days=(end.weekday() + 1) % 7)  # the Sunday starting end's week
    first_week = last_week - dt.timedelta(weeks=weeks - 1)
    return DemoWindow(start=sessions[0], end=end, labels_end=labels_end, first_week=first_week, last_week=last_week)


def run_demo(window: DemoWindow) -> None:
    """Execute the four demo jobs in the instance of ``$DAGSTER_HOME``."""
    import os

    # One "planned" event per asset instead of one per partition: 2,500 fewer
    # event-log writes for the features run (~40 s on SQLite).  The trade-off
    # (Dagster's): if a demo run fails, its partitions are not marked failed;
    # the failed run itself shows in the UI and this script stops with its id.
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
    import dagster as dg

    from market_assets.definitions import defs

    steps = [
        ("features_job", window.start, window.end),
        ("labels_job", window.start, window.labels_end),
        ("training_job", window.first_week, window.last_week),
        ("predictions_job", window.predictions_start, window.end),
        ("monitoring_job", window.predictions_start, window.end),
        ("backtest_job", window.predictions_start, window.end),
    ]
    # Record every monitored session's own check results (the default stops at
    # 31 sessions a run), so the retrain sensor of `dagster dev` sees them.
    per_session = {"config": {"per_session_check_limit": 400}}
    run_config = {"monitoring_job": {"ops": {"drift_report": per_session, "model_performance": per_session}}}
    with dg.DagsterInstance.get() as instance:
        for job_name, first, last in steps:
            began = time.perf_counter()
            log.info("demo: %s over %s … %s", job_name, first, last)
            result = defs.resolve_job_def(job_name).execute_in_process(
                instance=instance, run_config=run_config.get(job_name, {}),
                tags={
                    "dagster/asset_partition_range_start": first.isoformat(),
                    "dagster/asset_partition_range_end": last.isoformat(),
                    "market_assets/demo": "true",
                },
                raise_on_error=False,
            )
            if not result.success:
                raise SystemExit(f"demo: {job_name} failed (run {result.run_id}); see its logs in the UI")
            log.info("demo: %s succeeded in %.0f s (run %s)", job_name, time.perf_counter() - began, result.run_id)


def main(argv: list[str] | None = None) -> None:
    from market_assets.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date.today(),
                        help="pretend today is this date (ISO); the window ends the session before it")
    parser.add_argument("--print-window", action="store_true", help="print the window and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = load_settings()
    window = demo_window(args.today, settings.calendar, settings.start_date)
    print(f"demo window: {window}")
    if not args.print_window:
        run_demo(window)


if __name__ == "__main__":
    main()
