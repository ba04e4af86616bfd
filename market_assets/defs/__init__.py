"""The Dagster layer: partitions, assets, checks, resources, IO managers, jobs."""

import warnings

import dagster as dg

# BackfillPolicy.single_run() is the documented way to backfill a range in one
# run; its "beta" label is noise for every import of the code location.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
# Check specs carry the session partitions so that each session gets its own
# check results; Dagster 1.13 labels that "preview".
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
