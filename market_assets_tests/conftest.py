"""Shared fixtures."""

from __future__ import annotations

import pytest

from market_assets_tests.services import require_postgres


@pytest.fixture
def postgres_url() -> str:
    """SQLAlchemy URL of the real PostgreSQL test database (fails under CI if absent)."""
    return require_postgres()
