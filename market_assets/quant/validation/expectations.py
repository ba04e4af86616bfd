"""The Great Expectations suite of validated prices and its runner.

Great Expectations (GX 1.x) is imported inside the functions: importing it
takes about three seconds, which the Dagster code location must not pay.
The suite runs on an in-memory pandas batch through an ephemeral context
with progress bars and analytics off, so nothing is printed, written or sent.

Export the suite for documentation with
``build_expectation_suite(ValidationConfig()).to_json_dict()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from market_assets.quant.validation.result import ValidationConfig
from market_assets.quant.validation.rules import REASON_CODES, expectation_specs

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite

SUITE_NAME = "validated_prices"
# COMPLETE gives every failing row index; the failing values themselves are
# not needed (rows are read back from the frame) and would double the memory.
RESULT_FORMAT: dict[str, Any] = {"result_format": "COMPLETE", "exclude_unexpected_values": True}


def build_expectation_suite(config: ValidationConfig = ValidationConfig()) -> ExpectationSuite:
    """The GX expectation suite of :func:`validate_prices`, one expectation per spec.

    Each expectation carries ``meta = {"check_name": ..., "reason_code": ...}``
    and reads the evaluation frame of
    :func:`market_assets.quant.validation.rules.evaluation_frame`, whose
    helper columns (``_copy_index``, ``_log_jump`` ...) are built in polars.

    Side effect: GX 1.x binds a suite to its "current" data context, so this
    creates a silent in-memory one, which becomes GX's current context.
    """
    _silent_context()
    return _suite(config)


def _suite(config: ValidationConfig) -> ExpectationSuite:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name=SUITE_NAME)
    for spec in expectation_specs(config):
        expectation_class = getattr(gxe, spec.expectation)
        suite.add_expectation(
            expectation_class(
                **spec.kwargs,
                meta={"check_name": spec.check_name, "reason_code": spec.reason_code},
                description=f"{spec.check_name}: rows failing it are rejected as {spec.reason_code}",
            )
        )
    return suite


def evaluate_expectations(frame: pl.DataFrame, config: ValidationConfig) -> dict[str, np.ndarray]:
    """Run the suite on ``frame`` and return a failure mask per reason code.

    Parameters
    ----------
    frame
        The evaluation frame (see :func:`~market_assets.quant.validation.rules.evaluation_frame`).
    config
        Thresholds written into the expectations.

    Returns
    -------
    dict[str, numpy.ndarray]
        For every code of :data:`~market_assets.quant.validation.rules.REASON_CODES`,
        a boolean array over the rows of ``frame``, True where the row failed.

    Raises
    ------
    RuntimeError
        When GX could not evaluate an expectation (the GX message is included);
        a rule that did not run is never reported as passed.
    """
    masks = {code: np.zeros(frame.height, dtype=bool) for code in REASON_CODES}
    context = _silent_context()
    suite = _suite(config)
    asset = context.data_sources.add_pandas("prices").add_dataframe_asset("raw_prices")
    batch = asset.add_batch_definition_whole_dataframe("whole_batch").get_batch(
        batch_parameters={"dataframe": frame.to_pandas()}
    )
    report = batch.validate(suite, result_format=RESULT_FORMAT)
    for result in report.results:
        meta = result.expectation_config.meta
        _raise_if_not_evaluated(result, meta["check_name"])
        failing = np.asarray(result.result.get("unexpected_index_list") or [], dtype=np.int64)
        if len(failing) != result.result.get("unexpected_count", 0):
            raise RuntimeError(
                f"GX expectation {result.expectation_config.type} of {meta['check_name']} returned "
                f"{len(failing)} failing row indices for {result.result.get('unexpected_count')} "
                "failures; expected one index per failure (result_format COMPLETE)"
            )
        masks[meta["reason_code"]][failing] = True
    return masks


def _silent_context() -> Any:
    """A fresh in-memory GX context with progress bars and analytics off."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    project_config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    return gx.get_context(mode="ephemeral", project_config=project_config)


def _raise_if_not_evaluated(result: Any, check_name: str) -> None:
    info = result.exception_info or {}
    # GX reports either one exception dict or one dict per metric.
    infos = [info] if "raised_exception" in info else list(info.values())
    for item in infos:
        if item.get("raised_exception"):
            raise RuntimeError(
                f"GX could not evaluate {result.expectation_config.type} "
                f"{result.expectation_config.kwargs} of check {check_name}: "
                f"{item.get('exception_message')}"
            )
