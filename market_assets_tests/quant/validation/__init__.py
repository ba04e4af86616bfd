"""Tests of market_assets.quant.validation."""
