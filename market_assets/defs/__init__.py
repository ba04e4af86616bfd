"""The Dagster layer: partitions, assets, checks, resources, IO managers, jobs."""
