"""The production shape: PostgreSQL, Redis, gunicorn, RQ workers.

Every test here is marked ``production``. Tests that need PostgreSQL are skipped unless
``TEST_DATABASE_URL`` is a PostgreSQL URL; those that need Redis unless ``TEST_REDIS_URL``
is set (``scripts/test`` sets both in its second pass).
"""
import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """Mark this folder's tests ``production`` and skip those whose servers are absent."""
    has_pg = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")
    has_redis = bool(os.environ.get("TEST_REDIS_URL"))
    for item in items:
        if HERE not in Path(str(item.fspath)).resolve().parents:
            continue
        item.add_marker(pytest.mark.production)
        if item.get_closest_marker("needs_postgres") and not has_pg:
            item.add_marker(pytest.mark.skip(reason="needs TEST_DATABASE_URL=postgresql+psycopg://..."))
        if item.get_closest_marker("needs_redis") and not has_redis:
            item.add_marker(pytest.mark.skip(reason="needs TEST_REDIS_URL=redis://..."))


def pytest_configure(config):
    """Register the markers used here."""
    config.addinivalue_line("markers", "needs_postgres: skipped unless TEST_DATABASE_URL is PostgreSQL")
    config.addinivalue_line("markers", "needs_redis: skipped unless TEST_REDIS_URL is set")


@pytest.fixture
def redis_url():
    """The Redis server of the production pass."""
    return os.environ["TEST_REDIS_URL"]
