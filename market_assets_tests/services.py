"""Real services on loopback for the production-path tests.

Under ``CI=true`` a missing service is a failure (the production path must be
tested); on a laptop the test skips with the reason.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

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


@contextlib.contextmanager
def scratch_postgres_database(prefix: str) -> Iterator[str]:
    """Create a throw-away database on the test server; yield its name; drop it.

    Dagster and Optuna both keep an ``alembic_version`` table, so each gets a
    database of its own rather than sharing ``test``.
    """
    import psycopg2

    require_postgres()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
