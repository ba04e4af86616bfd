"""Pure computation (validation rules, indicators, labels, models, metrics): no Dagster, no I/O."""
