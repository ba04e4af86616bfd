"""Fixtures for the tracking tests: a tiny Ridge, a shared local store, no network.

Creating an MLflow SQLite database runs its schema migrations (seconds), so
the tests share one store and keep apart by model name.  Every test runs
without network access and without secret-looking environment variables.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from market_assets.tracking import LoggedModel, TrackingConfig, local_tracking_config, log_training_run

LOOPBACK = ("127.0.0.1", "::1", "localhost")
SECRET_LIKE = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL", re.IGNORECASE)


@pytest.fixture(scope="module", autouse=True)
def no_network() -> Iterator[list[str]]:
    """Record (and refuse) every connection or DNS lookup beyond loopback; fail if any."""
    attempts: list[str] = []
    original_connect, original_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOOPBACK:
            attempts.append(f"connect {address}")
            raise OSError(f"network blocked in tests: connect to {address}")
        return original_connect(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        if host not in (None, *LOOPBACK):
            attempts.append(f"getaddrinfo {host}")
            raise OSError(f"network blocked in tests: DNS lookup of {host}")
        return original_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield attempts
    assert attempts == [], f"tracking tests tried to reach the network: {attempts}"


@pytest.fixture(scope="module", autouse=True)
def no_secrets() -> Iterator[None]:
    """Remove every secret-looking variable (API keys, tokens, passwords) from the environment."""
    import os

    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if SECRET_LIKE.search(n)]:
            patch.delenv(name)
        yield


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> TrackingConfig:
    """A server-less SQLite store in a temporary directory, shared by the tracking tests."""
    return local_tracking_config(tmp_path_factory.mktemp("mlflow"))


@pytest.fixture(scope="session")
def features() -> tuple[pd.DataFrame, np.ndarray]:
    """40 rows x 4 features and a linear target."""
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(40, 4)), columns=["mom_20", "vol_20", "rsi_14", "ret_lag_1"])
    y = X.to_numpy() @ np.array([0.5, -0.2, 0.1, 0.0]) + rng.normal(scale=0.05, size=40)
    return X, y


LogRidge = Callable[..., tuple[LoggedModel, Ridge]]


@pytest.fixture(scope="session")
def log_ridge(features: tuple[pd.DataFrame, np.ndarray]) -> LogRidge:
    """Fit a Ridge and log it with :func:`log_training_run`; returns (LoggedModel, model)."""

    def log(
        config: TrackingConfig,
        model_name: str,
        *,
        alpha: float = 1.0,
        metrics: dict[str, float] | None = None,
        tags: dict[str, str] | None = None,
    ) -> tuple[LoggedModel, Ridge]:
        X, y = features
        model = Ridge(alpha=alpha).fit(X, y)
        logged = log_training_run(
            config,
            model_name=model_name,
            model=model,
            X_example=X,
            params={"alpha": alpha, "features": list(X.columns)},
            metrics={"ic": 0.05} if metrics is None else metrics,
            feature_importance=dict(zip(X.columns, model.coef_, strict=True)),
            tags={"dagster/partition": "2024-01-01"} if tags is None else tags,
        )
        return logged, model

    return log
