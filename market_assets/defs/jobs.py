"""Jobs over the daily session partitions."""

import dagster as dg

from market_assets.defs.partitions import SESSIONS

prices_job = dg.define_asset_job(
    name="prices_job",
    selection=dg.AssetSelection.groups("prices"),
    partitions_def=SESSIONS,
    description="Fetch, validate and store the prices of the selected sessions.",
)

daily_job = dg.define_asset_job(
    name="daily_job",
    selection=dg.AssetSelection.assets("raw_prices", "validated_prices", "price_rejections",
                                       "market_regimes", "feature_table"),
    partitions_def=SESSIONS,
    description="Everything a session's close makes computable: prices, regimes, features.",
)

labels_job = dg.define_asset_job(
    name="labels_job",
    selection=dg.AssetSelection.assets("labels", "feature_ic"),
    partitions_def=SESSIONS,
    description="Labels and feature IC of a session whose 20-session forward window has closed.",
)

JOBS = [prices_job, daily_job, labels_job]
