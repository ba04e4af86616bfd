"""Checks on ``feature_table``: finite values, nulls only in warm-up, constant and redundant features."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from market_assets.defs.metadata import markdown_table

FEATURE_CHECK_SPECS = [
    dg.AssetCheckSpec(
        "features_are_finite", asset="feature_table", blocking=True,
        description="No feature value is +inf, -inf or NaN (undefined values are null).",
    ),
    dg.AssetCheckSpec(
        "features_are_populated_after_warmup", asset="feature_table", blocking=True,
        description="Past each feature's warm-up, its null share stays under the configured limit.",
    ),
    dg.AssetCheckSpec(
        "features_are_not_constant", asset="feature_table",
        description="No feature is constant across the rows written (per-date features excepted). WARN.",
    ),
    dg.AssetCheckSpec(
        "features_are_not_redundant", asset="feature_table",
        description="No two features have |Pearson correlation| above the limit. WARN; pairs listed.",
    ),
]


def feature_check_results(
    table: pl.DataFrame,
    *,
    warmups: dict[str, int],
    per_date_features: list[str],
    max_null_share: float,
    max_abs_corr: float,
) -> Iterator[dg.AssetCheckResult]:
    """Results of the four feature checks.

    ``table`` is the stored output (target sessions) plus a ``history`` column.
    ``per_date_features`` (calendar, regime probabilities) are the same for
    every symbol of a session, so constancy and correlation skip them.
    """
    from market_assets.quant.feature_quality import (
        constant_features, null_share_after_warmup, nonfinite_counts, sample_rows,
    )
    from market_assets.quant.selection import high_correlation_pairs

    nonfinite = nonfinite_counts(table)
    yield dg.AssetCheckResult(
        check_name="features_are_finite", passed=not nonfinite, severity=dg.AssetCheckSeverity.ERROR,
        metadata={"features_with_nonfinite": len(nonfinite),
                  "counts": markdown_table([{"feature": k, "values": v} for k, v in nonfinite.items()])},
    )
    shares = null_share_after_warmup(table, warmups)
    over = {k: v for k, v in sorted(shares.items(), key=lambda kv: -kv[1]) if v > max_null_share}
    yield dg.AssetCheckResult(
        check_name="features_are_populated_after_warmup", passed=not over,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"max_null_share": dg.MetadataValue.float(max(shares.values(), default=0.0)),
                  "limit": dg.MetadataValue.float(max_null_share), "features_over_limit": len(over),
                  "worst": markdown_table([{"feature": k, "null_share": v} for k, v in over.items()])},
    )
    constant = constant_features(table, skip=per_date_features)
    yield dg.AssetCheckResult(
        check_name="features_are_not_constant", passed=not constant, severity=dg.AssetCheckSeverity.WARN,
        metadata={"constant_features": len(constant), "names": ", ".join(constant) or "—"},
    )
    sample = sample_rows(table.drop("date", "symbol", "history", *per_date_features, strict=False))
    pairs = high_correlation_pairs(sample, threshold=max_abs_corr)
    yield dg.AssetCheckResult(
        check_name="features_are_not_redundant", passed=pairs.is_empty(),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"pairs_over_limit": pairs.height, "limit": dg.MetadataValue.float(max_abs_corr),
                  "sampled_rows": sample.height, "pairs": markdown_table(pairs.head(50).to_dicts(), limit=50)},
    )
