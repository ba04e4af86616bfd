"""Real services on loopback for the production-path tests.

Under ``CI=true`` a missing service is a failure (the production path must be
tested); on a laptop the test skips with the reason.
"""

from __future__ import annotations

import os

import pytest

POSTGRES_HOST = os.environ.get("MARKET_ASSETS_TEST_PG_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("MARKET_ASSETS_TEST_PG_PORT", "5432"))
POSTGRES_USER = os.environ.get("MARKET_ASSETS_TEST_PG_USER", "postgres")
POSTGRES_DB = os.environ.get("MARKET_ASSETS_TEST_PG_DB", "test")


def service_unavailable(what: str, error: Exception) -> None:
    """Fail under CI, skip elsewhere, naming the service and the error."""
    message = f"{what} is not reachable: {error}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: production-path tests must not be skipped)")
    pytest.skip(message)


def require_postgres() -> str:
    """Return a SQLAlchemy URL for the test database, or fail/skip."""
    import psycopg2

    try:
        psycopg2.connect(
            host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER,
            dbname=POSTGRES_DB, connect_timeout=3,
        ).close()
    except psycopg2.OperationalError as error:
        service_unavailable(f"PostgreSQL at {POSTGRES_HOST}:{POSTGRES_PORT}/{POSTGRES_DB}", error)
    return f"postgresql+psycopg2://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{POSTGRES_DB}"
