"""market_assets: daily market prices as validated, partitioned Dagster assets.

Layers point one way: ``quant`` (pure computation) and ``sources`` (price
providers) never import ``defs`` (the Dagster layer).
"""
