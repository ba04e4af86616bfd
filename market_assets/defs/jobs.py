"""Jobs over the daily session partitions."""

import dagster as dg

from market_assets.defs.partitions import SESSIONS

prices_job = dg.define_asset_job(
    name="prices_job",
    selection=dg.AssetSelection.groups("prices"),
    partitions_def=SESSIONS,
    description="Fetch, validate and store the prices of the selected sessions.",
)

JOBS = [prices_job]
