"""Jobs over the daily session partitions."""

import dagster as dg

from market_assets.defs.partitions import MODEL_PERIODS, SESSIONS

prices_job = dg.define_asset_job(
    name="prices_job",
    selection=dg.AssetSelection.groups("prices"),
    partitions_def=SESSIONS,
    description="Fetch, validate and store the prices of the selected sessions.",
)

features_job = dg.define_asset_job(
    name="features_job",
    selection=dg.AssetSelection.assets("raw_prices", "validated_prices", "price_rejections",
                                       "market_regimes", "feature_table"),
    partitions_def=SESSIONS,
    description="History up to features for a range of sessions (a backfill is one run): prices, "
                "validation, regimes, features.",
)

daily_job = dg.define_asset_job(
    name="daily_job",
    selection=dg.AssetSelection.assets("raw_prices", "validated_prices", "price_rejections",
                                       "market_regimes", "feature_table", "predictions",
                                       "model_performance", "drift_report"),
    partitions_def=SESSIONS,
    description="Everything a session's close makes computable: prices, validation, regimes, features, "
                "predictions, then the champion's realised performance and drift.",
)

monitoring_job = dg.define_asset_job(
    name="monitoring_job",
    selection=dg.AssetSelection.assets("model_performance", "drift_report"),
    partitions_def=SESSIONS,
    description="Judge the serving champion on the selected sessions: realised performance and drift.",
)

retrain_job = dg.define_asset_job(
    name="retrain_job",
    selection=dg.AssetSelection.assets("retrained_model"),
    partitions_def=SESSIONS,
    description="Retrain on everything known at the session's close (the retrain sensor's target).",
)

labels_job = dg.define_asset_job(
    name="labels_job",
    selection=dg.AssetSelection.assets("labels", "feature_ic"),
    partitions_def=SESSIONS,
    description="Labels and feature IC of a session whose 20-session forward window has closed.",
)

training_job = dg.define_asset_job(
    name="training_job",
    selection=dg.AssetSelection.assets("trained_model"),
    partitions_def=MODEL_PERIODS,
    description="Train, register and (if it beats the champion) promote the model of a week.",
)

predictions_job = dg.define_asset_job(
    name="predictions_job",
    selection=dg.AssetSelection.assets("predictions"),
    partitions_def=SESSIONS,
    description="The champion's predictions for the selected sessions.",
)

JOBS = [prices_job, features_job, daily_job, monitoring_job, retrain_job, labels_job, training_job, predictions_job]
