"""The Dagster layer: partitions, assets, checks, resources, IO managers, jobs."""

import warnings

import dagster as dg

# BackfillPolicy.single_run() is the documented way to backfill a range in one
# run; its "beta" label is noise for every import of the code location.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
