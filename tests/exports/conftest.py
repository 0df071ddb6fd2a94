"""Fixtures of the export tests: two organisations, a team of every role, incidents filed through the service."""
from datetime import datetime
from types import SimpleNamespace

import pytest

from app.extensions import db
from app.incidents import service as incidents
from app.systems import service as systems
from app.tenancy import scoped
from tests.conftest import incident_payload

ROLES = ("reporter", "responder", "lead", "executive", "admin")


def parsed(payload):
    """The API payload with datetimes parsed (the services take Python values)."""
    return {k: datetime.fromisoformat(v) if k.endswith("_at") else v for k, v in payload.items()}


@pytest.fixture
def team(app, factory):
    """Organisation ``expo`` (one user of every role, one AI system) and a foreign one with its own incident.

    ``team.file(as_="lead", **facts)`` files an incident and returns its id.
    """
    org = factory.org("expo", name="株式会社エクスポ")
    other = factory.org("elsewhere")
    users = {role: factory.user(org, role) for role in ROLES}
    outsider = factory.user(other, "admin")
    with app.app_context(), scoped(org.id):
        system = systems.create_system(actor=users["admin"], data={
            "name": "顧客対応チャットボット", "purpose": "Answers customer questions", "actor_role": "business_user",
            "developer": "Example AI K.K.", "model_name": "chat-llm", "model_version": "2.1"})
        system_id = system.id
        db.session.remove()

    def file(as_="lead", org_=org, actor=None, **facts):
        actor = actor or users[as_]
        with app.app_context(), scoped(org_.id):
            incident = incidents.file_incident(actor=actor, data=parsed(incident_payload(**facts)))
            db.session.remove()
            return incident.id

    foreign_id = file(actor=outsider, org_=other, title="Elsewhere's secret incident")
    return SimpleNamespace(org=org, other=other, users=users, outsider=outsider, system_id=system_id,
                           file=file, foreign_id=foreign_id, **users)


@pytest.fixture
def login(client, auth):
    """``login(user)``: log ``user`` in through the form; returns the client."""

    def _login(user):
        assert auth.login(user.email).status_code == 302
        return client

    return _login
