"""Fixtures of the queue and liaison tests: a team of every role in one organisation, and incidents."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from app.extensions import db
from app.incidents import service as incidents
from app.incidents.models import Incident
from app.tenancy import scoped
from tests.conftest import incident_payload

ROLES = ("reporter", "responder", "lead", "executive", "admin")


def parsed(payload):
    """The API payload with datetimes parsed (the services take Python values)."""
    return {k: datetime.fromisoformat(v) if k.endswith("_at") else v for k, v in payload.items()}


@pytest.fixture
def team(app, factory):
    """An organisation with one user of every role (plus a second responder), and helpers.

    ``team.file(**facts)`` files an incident as the lead and returns its id;
    ``team.set(incident_id, **columns)`` sets columns directly (test set-up of queue_due_at, is_open).
    """
    org = factory.org("queueco")
    users = {role: factory.user(org, role) for role in ROLES}
    users["responder2"] = factory.user(org, "responder", name="Responder Two")

    def file(**facts):
        with app.app_context(), scoped(org.id):
            incident = incidents.file_incident(actor=users["lead"], data=parsed(incident_payload(**facts)))
            db.session.remove()
            return incident.id

    def set_(incident_id, **values):
        with app.app_context(), scoped(org.id):
            db.session.execute(update(Incident).where(Incident.id == incident_id).values(**values))
            db.session.commit()
            db.session.remove()

    return SimpleNamespace(org=org, users=users, file=file, set=set_, **users)


@pytest.fixture
def in_org(app, team):
    """An application context under the team's organisation, for calling services directly."""
    with app.app_context(), scoped(team.org.id):
        yield
        db.session.remove()


def hours(n):
    """Now plus ``n`` hours (UTC)."""
    return datetime.now(timezone.utc) + timedelta(hours=n)
