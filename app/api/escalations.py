"""Escalations API: an incident's escalation records, the open ones, acknowledging, in-app notifications."""
from flask import g

from app.api import bp
from app.api.openapi import COMPONENT_SCHEMAS, doc
from app.api.util import shared
from app.escalation import service as escalation
from app.escalation.schemas import (
    DeliverySchema, EscalationListSchema, EscalationSchema, NotificationListSchema, NotificationSchema,
    RecipientSchema,
)

COMPONENT_SCHEMAS.setdefault("EscalationRecipient", RecipientSchema)
COMPONENT_SCHEMAS.setdefault("EscalationDelivery", DeliverySchema)
COMPONENT_SCHEMAS.setdefault("Escalation", EscalationSchema)
COMPONENT_SCHEMAS.setdefault("EscalationList", EscalationListSchema)
COMPONENT_SCHEMAS.setdefault("Notification", NotificationSchema)
COMPONENT_SCHEMAS.setdefault("NotificationList", NotificationListSchema)


@bp.get("/incidents/<int:incident_id>/escalations")
@doc("The incident's escalation records, oldest first", tag="Escalation", response=EscalationListSchema,
     errors=(401, 404))
def incident_escalations(incident_id):
    """Each escalation: level, reason, rule, recipients, created, acknowledged, and every delivery's result.
    A reporter sees an empty list."""
    rows = escalation.list_for_incident(actor=g.api_user, incident_id=incident_id)
    return shared(EscalationListSchema).dump({"items": rows})


@bp.get("/escalations")
@doc("The organisation's unacknowledged escalations, newest first", tag="Escalation",
     response=EscalationListSchema, errors=(401, 403))
def open_escalations():
    """Staff only (responder, lead, executive, admin)."""
    return shared(EscalationListSchema).dump({"items": escalation.list_open(actor=g.api_user)})


@bp.post("/escalations/<int:escalation_id>/acknowledge")
@doc("Acknowledge an escalation (stops its reminders and the next level)", tag="Escalation",
     response=EscalationSchema, errors=(401, 403, 404))
def acknowledge_escalation(escalation_id):
    """Idempotent: acknowledging twice keeps the first acknowledgement."""
    row = escalation.acknowledge(actor=g.api_user, escalation_id=escalation_id, via="api")
    return shared(EscalationSchema).dump(row)


@bp.get("/notifications")
@doc("My in-app notifications, newest first", tag="Escalation", response=NotificationListSchema,
     errors=(401,))
def my_notifications():
    """The caller's in-app notifications (at most 50) and the unread count."""
    items = [{"id": n.id, "escalation_id": n.escalation_id, "incident_id": n.incident_id,
              "incident_ref": incident.ref, "level": e.level, "reason": e.reason, "round": n.round,
              "created_at": n.created_at, "read_at": n.read_at}
             for n, e, incident in escalation.notifications(actor=g.api_user)]
    return shared(NotificationListSchema).dump({"items": items, "unread": escalation.unread_count(g.api_user)})
