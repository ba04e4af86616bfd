"""The Evidently HTML report: which columns it shows, and that it is written where asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from market_assets.quant.drift import feature_drift
from market_assets.quant.drift_report import report_columns, write_drift_html


def test_report_columns_put_prediction_and_target_first_then_the_most_drifted() -> None:
    rng = np.random.default_rng(0)
    reference = pl.DataFrame({f"f{i}": rng.normal(size=2000) for i in range(6)})
    current = pl.DataFrame({f"f{i}": rng.normal(0.1 * i, size=2000) for i in range(6)})
    table = feature_drift(reference, current).table
    assert report_columns(table, always=("prediction", "fwd_ret_1"), n_features=3) == [
        "prediction", "fwd_ret_1", "f5", "f4", "f3"]
    with pytest.raises(ValueError, match="n_features=-1"):
        report_columns(table, n_features=-1)


@pytest.mark.slow
def test_write_drift_html(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n_ref, n_cur = 3000, 300
    reference = pl.DataFrame({"prediction": rng.normal(0, 0.01, n_ref), "fwd_ret_1": rng.normal(0, 0.02, n_ref),
                              "rsi_14": rng.uniform(20, 80, n_ref), "left_out_column": rng.normal(size=n_ref)})
    current = pl.DataFrame({"prediction": rng.normal(0.01, 0.01, n_cur),
                            "fwd_ret_1": pl.Series(rng.normal(0, 0.02, n_cur)).scatter(range(100), None),
                            "rsi_14": rng.uniform(20, 80, n_cur), "left_out_column": rng.normal(size=n_cur)})
    path = write_drift_html(reference, current, ["prediction", "fwd_ret_1", "rsi_14"], tmp_path / "d" / "r.html")
    html = path.read_text()
    assert path == tmp_path / "d" / "r.html"
    assert "prediction" in html and "rsi_14" in html and "left_out_column" not in html
    assert "Wasserstein distance (normed)" in html
    with pytest.raises(ValueError, match=r"current has no column\(s\) \['missing'\]"):
        write_drift_html(reference.with_columns(missing=pl.lit(1.0)), current, ["missing"], tmp_path / "x.html")
