"""Fixtures of the ledger tests: an organisation with one user of every role, entries as plain
dicts, and raw SQL on the ledger table (the only way to tamper with it)."""
import json
from datetime import datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.incidents import service as incidents
from app.ledger.models import LedgerEntry
from app.tenancy import scoped
from tests.conftest import incident_payload

ROLES = ("reporter", "responder", "lead", "executive", "admin")


def parsed(payload):
    """The API payload with datetimes parsed (the services take Python values)."""
    return {k: datetime.fromisoformat(v) if k.endswith("_at") else v for k, v in payload.items()}


def entries_of(app, org_id):
    """The organisation's entries by sequence number, as dicts (payload parsed)."""
    with app.app_context():
        rows = db.session.execute(select(LedgerEntry).where(LedgerEntry.org_id == org_id)
                                  .order_by(LedgerEntry.seq).execution_options(all_orgs=True)).scalars()
        out = [{"id": r.id, "seq": r.seq, "actor": r.actor, "actor_id": r.actor_id, "action": r.action,
                "subject_type": r.subject_type, "subject_id": r.subject_id, "payload": json.loads(r.payload),
                "payload_text": r.payload, "prev_hash": r.prev_hash, "hash": r.hash} for r in rows]
        db.session.remove()
        return out


def sql(app, statement, **params):
    """Run raw SQL through the session and commit (tampering, as an attacker with database access)."""
    with app.app_context():
        db.session.execute(text(statement), params)
        db.session.commit()
        db.session.remove()


@pytest.fixture
def team(app, factory):
    """An organisation with one user of every role; ``team.file()`` files an incident as the lead."""
    org = factory.org("ledgerco")
    users = {role: factory.user(org, role) for role in ROLES}

    def file(actor=None, **facts):
        with app.app_context(), scoped(org.id):
            incident = incidents.file_incident(actor=actor or users["lead"], data=parsed(incident_payload(**facts)))
            db.session.remove()
            return incident.id

    def entries():
        return entries_of(app, org.id)

    def run(fn):
        """Call ``fn()`` in an app context scoped to the organisation."""
        with app.app_context(), scoped(org.id):
            try:
                return fn()
            finally:
                db.session.remove()

    return SimpleNamespace(org=org, users=users, file=file, entries=entries, run=run)


def label(user):
    """How the ledger names a user."""
    return f"user:{user.id} {user.email}"
