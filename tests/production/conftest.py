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


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on a free port; its ``mailbox`` keeps every message."""
    from tests.escalation._servers import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def prod_env(fresh_database_url, redis_url, tmp_path):
    """The environment of a production deployment on a throwaway PostgreSQL database."""
    import secrets

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "FLASK_"))}
    env.update({
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": fresh_database_url,
        "REDIS_URL": redis_url,
        "RQ_QUEUE": f"test-gunicorn-{secrets.token_hex(4)}",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "PYTHONUNBUFFERED": "1",
    })
    return env


@pytest.fixture
def token(prod_env):
    """Schema, organisation, user and API token, made as an operator would with the CLI."""
    from tests.production._support import flask_cli

    flask_cli(prod_env, "db", "upgrade")
    flask_cli(prod_env, "org", "create", "prod-acme", "--name", "本番 株式会社")
    flask_cli(prod_env, "user", "create", "lead@prod-acme.example.jp", "--org", "prod-acme",
              "--role", "lead", "--password", "a-long-production-password")
    return flask_cli(prod_env, "token", "create", "lead@prod-acme.example.jp").stdout.strip().splitlines()[-1]


@pytest.fixture
def gunicorn(prod_env, token, tmp_path):
    """``gunicorn -w 2 wsgi:app`` on a free loopback port; yields its base URL."""
    from tests.production._support import gunicorn_server

    with gunicorn_server(prod_env, tmp_path / "gunicorn.log") as base:
        yield base
