"""Ministry requests, corrective notices and report collections, and their links to incidents.

The only writer of ``ministry_request`` and ``incident_ministry_request`` rows. Linking a
request to an incident puts the incident on the government-liaison path: the link, a
``ministry_request_linked`` timeline event and the recomputed deadlines (the
``jp-ai-promotion`` rule applies once a request is linked) are one transaction.
Leads and admins record and link; executives read.
"""
from datetime import datetime, timezone

from sqlalchemy import delete, func, select

from app.db import transaction, utcnow
from app.errors import Forbidden, NotFound, ValidationFailed
from app.escalation import service as escalation
from app.extensions import db
from app.incidents import service as incidents
from app.incidents.models import Incident, IncidentMinistryRequest, MinistryRequest, TimelineEvent
from app.liaison import vocab

READER_ROLES = ("lead", "admin", "executive")
WRITER_ROLES = ("lead", "admin")
FIELDS = ("ministry", "ministry_other", "kind", "reference", "received_at", "requested_actions", "due_at", "status")


def _require(actor, roles):
    if actor.role not in roles:
        raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")


def _text(errors, clean, data, key, limit, *, required=False):
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[key] = ["Required."]
        elif key in data:
            clean[key] = ""
        return
    if not isinstance(value, str):
        errors[key] = ["Must be text."]
    elif len(value.strip()) > limit:
        errors[key] = [f"At most {limit} characters."]
    else:
        clean[key] = value.strip()


def _time(errors, clean, data, key, *, required=False):
    value = data.get(key)
    if value in (None, ""):
        if required:
            errors[key] = ["Required."]
        elif key in data:
            clean[key] = None
        return
    if not isinstance(value, datetime):
        errors[key] = ["Must be a date and time (ISO 8601)."]
    elif value.tzinfo is None:
        errors[key] = ["Give a time zone offset (for example +09:00 or Z)."]
    else:
        clean[key] = value.astimezone(timezone.utc)


def validate(data, *, partial=False, current=None):
    """Check a ministry request's fields; return the clean values or raise ValidationFailed(fields)."""
    errors, clean = {}, {}
    unknown = set(data) - set(FIELDS)
    for key in sorted(unknown):
        errors[key] = ["Unknown field."]
    if not partial or "ministry" in data:
        ministry = data.get("ministry")
        if ministry == "other":
            other = data.get("ministry_other")
            if not isinstance(other, str) or not other.strip():
                errors["ministry_other"] = ["Required."]
            elif len(other.strip()) > vocab.MINISTRY_MAX:
                errors["ministry_other"] = [f"At most {vocab.MINISTRY_MAX} characters."]
            else:
                clean["ministry"] = other.strip()
        else:
            _text(errors, clean, data, "ministry", vocab.MINISTRY_MAX, required=True)
    for key, allowed, default in (("kind", vocab.KINDS, "request"), ("status", vocab.STATUSES, "open")):
        if key in data:
            if data[key] not in allowed:
                errors[key] = [f"Must be one of: {', '.join(allowed)}."]
            else:
                clean[key] = data[key]
        elif not partial:
            clean[key] = default
    if "reference" in data or not partial:
        _text(errors, clean, data, "reference", vocab.REFERENCE_MAX)
        clean.setdefault("reference", "")
    if "requested_actions" in data or not partial:
        _text(errors, clean, data, "requested_actions", vocab.ACTIONS_MAX)
        clean.setdefault("requested_actions", "")
    if not partial or "received_at" in data:
        _time(errors, clean, data, "received_at", required=True)
    _time(errors, clean, data, "due_at")
    received = clean.get("received_at", current.received_at if current is not None else None)
    if "received_at" in clean and clean["received_at"] > utcnow():
        errors["received_at"] = ["Cannot be in the future."]
    due = clean.get("due_at")
    if due is not None and received is not None and due < received:
        errors["due_at"] = ["Must be at or after the time it was received."]
    if errors:
        raise ValidationFailed(errors)
    return clean


def create_request(*, actor, data):
    """Record a ministry request for the actor's organisation (lead, admin); returns it."""
    _require(actor, WRITER_ROLES)
    clean = validate(data)
    with transaction() as s:
        item = MinistryRequest(org_id=actor.org_id, created_by_id=actor.id, **clean)
        s.add(item)
        s.flush()
        from app.ledger import service as ledger

        ledger.record("ministry_request_created", actor=actor, subject=item, payload=dict(clean))
    return item


def find_request(request_id):
    """The organisation's request with this id whoever asks, or raise NotFound (URL resolution)."""
    item = db.session.execute(select(MinistryRequest).where(MinistryRequest.id == request_id)).scalar_one_or_none()
    if item is None:
        raise NotFound("ministry request not found")
    return item


def get_request(*, actor, request_id):
    """A request of the actor's organisation (lead, admin, executive); NotFound before Forbidden."""
    item = find_request(request_id)
    _require(actor, READER_ROLES)
    return item


def update_request(*, actor, request_id, data):
    """Edit a request's fields (status, due date, ...); lead, admin. Returns it."""
    item = find_request(request_id)
    _require(actor, WRITER_ROLES)
    clean = validate(data, partial=True, current=item)
    with transaction() as s:
        item = find_request(request_id)
        changes = {key: [getattr(item, key), value] for key, value in clean.items() if getattr(item, key) != value}
        for key, value in clean.items():
            setattr(item, key, value)
        s.add(item)
        from app.ledger import service as ledger

        ledger.record("ministry_request_updated", actor=actor, subject=item, payload={"changes": changes})
    return item


def list_requests(*, actor, status=None, limit=50, after_id=None):
    """Requests of the organisation, newest first (keyset on id), with each one's count of links."""
    _require(actor, READER_ROLES)
    links = (select(func.count()).where(IncidentMinistryRequest.request_id == MinistryRequest.id)
             .correlate(MinistryRequest).scalar_subquery())
    stmt = select(MinistryRequest, links.label("links"))
    if status:
        stmt = stmt.where(MinistryRequest.status == status)
    if after_id:
        stmt = stmt.where(MinistryRequest.id < after_id)
    stmt = stmt.order_by(MinistryRequest.id.desc()).limit(limit)
    return [(row[0], row[1]) for row in db.session.execute(stmt)]


def linked_incidents(*, actor, request_id):
    """The incidents a request is linked to, by reference."""
    get_request(actor=actor, request_id=request_id)
    stmt = (select(Incident).join(IncidentMinistryRequest, IncidentMinistryRequest.incident_id == Incident.id)
            .where(IncidentMinistryRequest.request_id == request_id).order_by(Incident.number))
    return list(db.session.execute(stmt).unique().scalars())


def has_linked_request(incident_id):
    """True when any ministry request is linked to the incident (the government-liaison guard)."""
    stmt = select(IncidentMinistryRequest.request_id).where(IncidentMinistryRequest.incident_id == incident_id).limit(1)
    return db.session.execute(stmt).first() is not None


def linked_requests(incident_id):
    """The ministry requests linked to an incident, newest received first."""
    stmt = (select(MinistryRequest)
            .join(IncidentMinistryRequest, IncidentMinistryRequest.request_id == MinistryRequest.id)
            .where(IncidentMinistryRequest.incident_id == incident_id)
            .order_by(MinistryRequest.received_at.desc(), MinistryRequest.id.desc()))
    return list(db.session.execute(stmt).scalars())


def _link_row(session, request_id, incident_id):
    stmt = select(IncidentMinistryRequest).where(
        IncidentMinistryRequest.request_id == request_id, IncidentMinistryRequest.incident_id == incident_id)
    return session.execute(stmt).scalar_one_or_none()


def _incident_for_link(actor, incident_id):
    if isinstance(incident_id, bool) or not isinstance(incident_id, int):
        raise ValidationFailed({"incident_id": ["Must be the id of an incident."]})
    try:
        return incidents.get_incident(actor=actor, incident_id=incident_id)
    except NotFound:
        raise ValidationFailed({"incident_id": ["Not found."]}) from None


def _event(actor, incident, item, action):
    return TimelineEvent(
        org_id=incident.org_id, incident_id=incident.id, actor_id=actor.id, action=action,
        data={"request_id": item.id, "ministry": item.ministry, "kind": item.kind, "reference": item.reference},
    )


def link(*, actor, request_id, incident_id):
    """Link a request to an incident (lead, admin) and recompute its deadlines; returns (request, incident).

    Linking twice is harmless (no second link or event).
    """
    find_request(request_id)
    _require(actor, WRITER_ROLES)
    _incident_for_link(actor, incident_id)
    with transaction() as s:
        item = find_request(request_id)
        incident = incidents.get_incident(actor=actor, incident_id=incident_id)
        if _link_row(s, request_id, incident_id) is None:
            s.add(IncidentMinistryRequest(org_id=actor.org_id, request_id=item.id, incident_id=incident.id))
            s.add(_event(actor, incident, item, "ministry_request_linked"))
            s.flush()
            incidents.recompute_deadlines(s, incident)
            escalation.incident_changed(s, incident)
            from app.ledger import service as ledger

            ledger.record("ministry_request_linked", actor=actor, subject=incident, payload={
                "number": incident.number, "request_id": item.id, "ministry": item.ministry,
                "kind": item.kind, "reference": item.reference})
    return item, incident


def unlink(*, actor, request_id, incident_id):
    """Remove the link between a request and an incident (lead, admin) and recompute its deadlines."""
    find_request(request_id)
    _require(actor, WRITER_ROLES)
    _incident_for_link(actor, incident_id)
    with transaction() as s:
        item = find_request(request_id)
        incident = incidents.get_incident(actor=actor, incident_id=incident_id)
        if _link_row(s, request_id, incident_id) is not None:
            s.execute(delete(IncidentMinistryRequest).where(
                IncidentMinistryRequest.request_id == request_id,
                IncidentMinistryRequest.incident_id == incident_id))
            s.add(_event(actor, incident, item, "ministry_request_unlinked"))
            s.flush()
            incidents.recompute_deadlines(s, incident)
            escalation.incident_changed(s, incident)
            from app.ledger import service as ledger

            ledger.record("ministry_request_unlinked", actor=actor, subject=incident, payload={
                "number": incident.number, "request_id": item.id, "ministry": item.ministry,
                "kind": item.kind, "reference": item.reference})

    return item, incident


def find_incident_by_number(*, actor, number):
    """The organisation's incident with this number (``AI-0042`` is 42) the actor may see, or None."""
    stmt = select(Incident.id).where(Incident.number == number)
    incident_id = db.session.execute(stmt).scalar_one_or_none()
    if incident_id is None:
        return None
    try:
        return incidents.get_incident(actor=actor, incident_id=incident_id)
    except NotFound:
        return None
