"""Fixtures of the web tests: a logged-in browser-like client per role, data made through
the services, and a live server for the Playwright tests."""
import re
import socket
import threading
from datetime import datetime, timedelta, timezone

import pytest

from app.extensions import db
from app.incidents import service as incidents
from app.orgs import service as orgs
from app.systems import service as systems
from app.tenancy import scoped


def csrf_of(html):
    """The CSRF token in a page."""
    match = re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


class Web:
    """One person's session: their org and user, and form posts that carry the CSRF token."""

    def __init__(self, app, client, auth, factory):
        self.app, self.client, self.auth, self.factory = app, client, auth, factory
        self.org = self.user = None

    def login_as(self, role="reporter", org=None, **kw):
        """Create a user with ``role`` (in a new org unless given) and log in."""
        self.org = org or self.factory.org()
        self.user = self.factory.user(self.org, role, **kw)
        response = self.auth.login(self.user.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return self.user

    def csrf(self, path="/account"):
        """A CSRF token of this session."""
        return csrf_of(self.client.get(path).get_data(as_text=True))

    def post(self, path, data=None, csrf_from="/account", **kw):
        """Post a form with this session's CSRF token."""
        body = dict(data or {})
        body["csrf_token"] = self.csrf(csrf_from)
        return self.client.post(path, data=body, **kw)

    def as_actor(self, fn, **kwargs):
        """Call a service as this user, under their organisation."""
        with self.app.app_context(), scoped(self.org.id):
            actor = orgs.get_user(self.user.id)
            result = fn(actor=actor, **kwargs)
            ids = getattr(result, "id", None)
            db.session.expunge_all()
            return ids if ids is not None else result

    def incident(self, **overrides):
        """File an incident through the service; returns its id."""
        return self.as_actor(incidents.file_incident, data=incident_data(**overrides))

    def system(self, **data):
        """Add an AI system through the service (as a lead of the org); returns its id."""
        body = {"name": "Support chatbot"}
        body.update(data)
        if self.user.role in ("lead", "admin"):
            return self.as_actor(systems.create_system, data=body)
        self._lead = getattr(self, "_lead", None) or self.factory.user(self.org, "lead")
        with self.app.app_context(), scoped(self.org.id):
            system = systems.create_system(actor=orgs.get_user(self._lead.id), data=body)
            system_id = system.id
            db.session.remove()
        return system_id


def incident_data(**overrides):
    """Valid facts for incidents.file_incident."""
    now = datetime.now(timezone.utc)
    data = {
        "title": "Chatbot disclosed another customer's order",
        "description": "The support chatbot answered with order details of a different customer.",
        "severity": "sev2",
        "occurred_at": now - timedelta(hours=5),
        "aware_at": now - timedelta(hours=2),
        "jurisdictions": ["JP"],
        "personal_data": True,
    }
    data.update(overrides)
    return data


def local_input(dt):
    """A UTC datetime as typed into a datetime-local input in Asia/Tokyo."""
    from zoneinfo import ZoneInfo

    return dt.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def web(app, client, auth, factory):
    """A session helper: ``web.login_as(role)``, ``web.post(path, data)``."""
    return Web(app, client, auth, factory)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(app):
    """The app served on 127.0.0.1 in a daemon thread (same database file as the tests)."""
    from werkzeug.serving import make_server

    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=5)
