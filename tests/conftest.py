"""Shared fixtures: the app (schema built by the real migrations), a clean database per
test, the client and CLI runner, and factories for organisations, users and tokens.

The database comes from ``TEST_DATABASE_URL`` (PostgreSQL in CI's second pass);
without it, a temporary SQLite file in WAL mode.
"""
import os
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

_TMP = Path(tempfile.mkdtemp(prefix="aitracker-test-"))
if not os.environ.get("TEST_DATABASE_URL"):
    os.environ["TEST_DATABASE_URL"] = f"sqlite:///{_TMP / 'test.sqlite3'}"

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.orgs import service as orgs  # noqa: E402
from app.tenancy import scoped  # noqa: E402
from config import TestConfig  # noqa: E402

PASSWORD = "correct-horse-battery-staple"


def is_postgres():
    """True when the suite runs against PostgreSQL."""
    return os.environ["TEST_DATABASE_URL"].startswith("postgresql")


def _reset_schema(app):
    """Drop everything and build the schema with the real migrations."""
    from flask_migrate import upgrade

    with app.app_context():
        with db.engine.begin() as conn:
            if is_postgres():
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            else:
                db.metadata.drop_all(conn)
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()


@pytest.fixture(scope="session")
def app():
    """The application under TestConfig, schema migrated once per session."""
    application = create_app(TestConfig)
    _reset_schema(application)
    yield application


@pytest.fixture(autouse=True)
def _clean_tables(request):
    """Every test starts with empty tables (only when the test uses the app)."""
    yield
    if "app" not in request.fixturenames:
        return
    application = request.getfixturevalue("app")
    from app import queue

    queue.wait_for_jobs(15)  # background jobs of this test finish before its rows go
    with application.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if is_postgres():
                conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            else:
                for name in tables:
                    conn.execute(text(f'DELETE FROM "{name}"'))


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner."""
    return app.test_cli_runner()


@pytest.fixture
def ctx(app):
    """An application context for calling services directly."""
    with app.app_context():
        yield
        db.session.remove()


class Factory:
    """Builds organisations, users and tokens through the services (as a user would)."""

    def __init__(self, app):
        self.app = app
        self._n = 0

    def org(self, slug=None, name=None, **kw):
        """A new organisation."""
        self._n += 1
        slug = slug or f"org{self._n}"
        with self.app.app_context():
            org = orgs.create_org(slug=slug, name=name or f"Organisation {slug}", **kw)
            db.session.expunge_all()
            return org

    def user(self, org, role="reporter", email=None, password=PASSWORD, name=None, locale=None):
        """A new user of ``org`` with ``role``."""
        self._n += 1
        email = email or f"{role}{self._n}@{org.slug}.example.jp"
        with self.app.app_context(), scoped(org.id):
            user = orgs.create_user(org=org, email=email, name=name or f"{role.title()} {self._n}",
                                    role=role, password=password, locale=locale)
            db.session.expunge_all()
            return user

    def token(self, user):
        """A raw API token for ``user``."""
        with self.app.app_context(), scoped(user.org_id):
            _, raw = orgs.create_token(user=user, name="test")
            return raw


@pytest.fixture
def factory(app):
    """Factories for test data."""
    return Factory(app)


class AuthActions:
    """Log in and out through the real form (Flask tutorial style)."""

    def __init__(self, client):
        self._client = client

    def csrf_token(self, path="/login"):
        """Fetch a page and return the CSRF token in its form."""
        import re

        html = self._client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
            r'name="csrf_token" value="([^"]+)"', html)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, email, password=PASSWORD):
        """Post the login form with its CSRF token."""
        token = self.csrf_token("/login")
        return self._client.post("/login", data={"email": email, "password": password, "csrf_token": token})

    def logout(self):
        """Post the logout form."""
        token = self.csrf_token("/account")
        return self._client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    """Login helper bound to ``client``."""
    return AuthActions(client)


def iso(dt):
    """ISO 8601 text of a datetime."""
    return dt.isoformat()


def incident_payload(**overrides):
    """A valid incident body for the API."""
    now = datetime.now(timezone.utc)
    body = {
        "title": "Chatbot disclosed another customer's order history",
        "description": "The support chatbot answered with order details of a different customer.",
        "severity": "sev2",
        "occurred_at": iso(now - timedelta(hours=5)),
        "aware_at": iso(now - timedelta(hours=2)),
        "jurisdictions": ["JP"],
        "personal_data": True,
        "harm_types": ["privacy"],
    }
    body.update(overrides)
    return body


@pytest.fixture
def fresh_database_url(tmp_path):
    """The URL of a new, empty database of the suite's kind, apart from the session's.

    SQLite: a file under ``tmp_path``. PostgreSQL: a throwaway database
    ``app_migr_<random>`` made through the maintenance database and dropped afterwards.
    """
    if not is_postgres():
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    import secrets

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    url = make_url(os.environ["TEST_DATABASE_URL"])
    name = f"app_migr_{secrets.token_hex(4)}"
    maintenance = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with maintenance.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with maintenance.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        maintenance.dispose()


@pytest.fixture
def make_app():
    """Build extra applications on other databases; their engines are disposed afterwards."""
    built = []

    def _make(database_url, **overrides):
        attrs = {"SQLALCHEMY_DATABASE_URI": database_url, **overrides}
        application = create_app(type("ExtraTestConfig", (TestConfig,), attrs))
        built.append(application)
        return application

    yield _make
    for application in built:
        with application.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def _close_pooled_connections_at_exit():
    """Dispose every engine the suite used once it ends, so no pooled connection is left
    to the garbage collector (psycopg warns about those, and warnings are errors here)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    engines = set()

    def _remember(conn):
        engines.add(conn.engine)

    event.listen(Engine, "engine_connect", _remember)
    yield
    event.remove(Engine, "engine_connect", _remember)
    for engine in engines:
        engine.dispose()


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    """One Chromium (the system's /usr/bin/chromium, driven by Playwright) per test module."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("no /usr/bin/chromium")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
