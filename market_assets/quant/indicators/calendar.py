"""Calendar features from the session date alone (as floats).

Month/quarter/year ends are judged by *weekdays*: a session is the month end
if no weekday (Mon-Fri) remains in its month.  Exchange holidays are ignored,
so a month whose last weekday is a holiday has no flagged session; this keeps
the feature a pure function of the date, known in advance, never read from a
later row.
"""

from __future__ import annotations

import polars as pl

from market_assets.quant.indicators.registry import FeatureSpec

D = pl.col("date")


def _weekdays_left_in_month() -> pl.Expr:
    """Weekdays strictly after the date and within its month."""
    return pl.business_day_count(D.dt.offset_by("1d"), D.dt.month_end().dt.offset_by("1d"))


def _weekdays_before_in_month() -> pl.Expr:
    return pl.business_day_count(D.dt.month_start(), D)


def specs() -> list[FeatureSpec]:
    """All calendar feature specs."""
    left = _weekdays_left_in_month
    month = D.dt.month()
    is_end = lambda: (left() == 0).cast(pl.Float64)  # noqa: E731
    return [
        FeatureSpec("day_of_week", "calendar", "0 = Monday ... 4 = Friday.", 0,
                    expr=lambda: (D.dt.weekday() - 1).cast(pl.Float64)),
        FeatureSpec("day_of_month", "calendar", "Day of the month, 1-31.", 0, expr=lambda: D.dt.day().cast(pl.Float64)),
        FeatureSpec("day_of_year", "calendar", "Day of the year, 1-366.", 0,
                    expr=lambda: D.dt.ordinal_day().cast(pl.Float64)),
        FeatureSpec("week_of_year", "calendar", "ISO week number, 1-53.", 0, expr=lambda: D.dt.week().cast(pl.Float64)),
        FeatureSpec("month", "calendar", "Month, 1-12.", 0, expr=lambda: month.cast(pl.Float64)),
        FeatureSpec("quarter", "calendar", "Quarter, 1-4.", 0, expr=lambda: D.dt.quarter().cast(pl.Float64)),
        FeatureSpec("weekdays_to_month_end", "calendar", "Weekdays left in the month after this date.", 0,
                    expr=lambda: left().cast(pl.Float64)),
        FeatureSpec("is_month_start", "calendar", "1.0 if no weekday of the month precedes this date.", 0,
                    expr=lambda: (_weekdays_before_in_month() == 0).cast(pl.Float64)),
        FeatureSpec("is_month_end", "calendar", "1.0 if no weekday of the month follows this date.", 0, expr=is_end),
        FeatureSpec("is_quarter_end", "calendar", "1.0 on the last weekday of March, June, September, December.", 0,
                    expr=lambda: (is_end() * (month % 3 == 0).cast(pl.Float64))),
        FeatureSpec("is_year_end", "calendar", "1.0 on the last weekday of December.", 0,
                    expr=lambda: (is_end() * (month == 12).cast(pl.Float64))),
    ]
