"""Reads the escalation pages need beyond :mod:`app.escalation.service` (nothing here writes).

- :func:`open_with_incidents`: the organisation's unacknowledged escalations with their incidents;
- :func:`ack_link`: what an e-mailed acknowledgement link names (escalation, incident, user,
  organisation), for the page that asks before acknowledging.
"""
from sqlalchemy import select

from app.errors import NotFound
from app.escalation import service as escalation
from app.escalation.models import Escalation
from app.extensions import db
from app.incidents.models import Incident
from app.orgs.models import Organisation, User
from app.tenancy import scoped


def incidents_by_id(ids):
    """``{id: Incident}`` of the organisation in scope (one query)."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    rows = db.session.execute(select(Incident).where(Incident.id.in_(ids))).unique().scalars()
    return {i.id: i for i in rows}


def open_with_incidents(*, actor, limit=100):
    """``[(escalation, incident)]``: unacknowledged escalations, newest first (READ_ROLES only)."""
    rows = escalation.list_open(actor=actor, limit=limit)
    incidents = incidents_by_id(e.incident_id for e in rows)
    return [(e, incidents[e.incident_id]) for e in rows if e.incident_id in incidents]


class AckLink:
    """What an acknowledgement link names: read under the link's organisation."""

    def __init__(self, org, user, escalation_row, incident):
        self.org, self.user, self.escalation, self.incident = org, user, escalation_row, incident


def ack_link(token):
    """The escalation, incident, user and organisation a signed link names.

    Raises NotFound for a forged link (or one whose user or escalation is gone) and
    ValidationFailed for an expired one (from :func:`service.read_ack_token`).
    """
    org_id, user_id, escalation_id = escalation.read_ack_token(token)
    with scoped(org_id):
        user = db.session.execute(
            select(User).where(User.id == user_id, User.active.is_(True))).unique().scalar_one_or_none()
        row = db.session.execute(
            select(Escalation).where(Escalation.id == escalation_id)).unique().scalar_one_or_none()
        incident = db.session.execute(
            select(Incident).where(Incident.id == (row.incident_id if row else -1))).unique().scalar_one_or_none()
        org = db.session.get(Organisation, org_id)
        if user is None or row is None or incident is None or org is None:
            raise NotFound("unknown acknowledgement link")
        row.deliveries  # noqa: B018 - loaded while in scope
        return AckLink(org, user, row, incident)
