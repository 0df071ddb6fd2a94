"""Incident intake and facts: the only writer of incident, tag and timeline rows."""
import base64
import binascii
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.orm.exc import StaleDataError

from app.db import transaction, utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.incidents import vocab
from app.incidents.models import Deadline, Incident, IncidentTag, TimelineEvent
from app.orgs.models import Organisation
from app.search import service as search
from app.systems.models import AISystem

DEFAULT_WORKFLOW = "jp-ai-incident"
INITIAL_STATE = "reported"
# Roles that work incidents and see all of the organisation's; a reporter sees their own.
STAFF_ROLES = ("responder", "lead", "executive", "admin")

TEXT_FIELDS = {"title": vocab.TITLE_MAX, "description": vocab.DESCRIPTION_MAX}
CHOICE_FIELDS = {"kind": vocab.KINDS, "severity": vocab.SEVERITIES, "sector": vocab.SECTORS}
LIST_FIELDS = {
    "harm_types": vocab.HARM_TYPES,
    "harmed_parties": vocab.HARMED_PARTIES,
    "principles": vocab.PRINCIPLES,
    "jurisdictions": vocab.JURISDICTIONS,
}
BOOL_FIELDS = (
    "personal_data", "critical_infrastructure", "widespread_infringement",
    "serious_incident", "wrongful_purpose", "confidential",
)
INT_FIELDS = {"deaths": vocab.MAX_DEATHS, "harmed_count": vocab.MAX_HARMED}
TIME_FIELDS = ("occurred_at", "aware_at")
REQUIRED = ("title", "description", "severity", "occurred_at", "aware_at")
EDITABLE = (
    tuple(TEXT_FIELDS) + tuple(CHOICE_FIELDS) + tuple(LIST_FIELDS) + BOOL_FIELDS
    + tuple(INT_FIELDS) + TIME_FIELDS + ("ai_system_id",)
)
TAG_FACETS = {"jurisdictions": "jurisdiction", "harm_types": "harm_type", "principles": "principle"}
# Facts that trigger regulatory deadline rules (the deadline engine recomputes on change).
DEADLINE_FACTS = (
    "jurisdictions", "personal_data", "deaths", "critical_infrastructure",
    "widespread_infringement", "serious_incident", "wrongful_purpose", "aware_at", "severity",
)


def validate(data, *, partial=False, current=None):
    """Check incident facts; return the clean values or raise ValidationFailed(fields)."""
    errors, clean = {}, {}
    for key in REQUIRED:
        if not partial and (key not in data or data[key] in (None, "")):
            errors[key] = ["Required."]
    for key, limit in TEXT_FIELDS.items():
        if key in data and key not in errors:
            value = data[key]
            if not isinstance(value, str):
                errors[key] = ["Must be text."]
            elif not value.strip():
                errors[key] = ["Required."]
            elif len(value) > limit:
                errors[key] = [f"At most {limit} characters."]
            else:
                clean[key] = value.strip()
    for key, allowed in CHOICE_FIELDS.items():
        if key in data and key not in errors:
            value = data[key]
            if value in (None, "") and key == "sector":
                clean[key] = None
            elif value not in allowed:
                errors[key] = [f"Must be one of: {', '.join(allowed)}."]
            else:
                clean[key] = value
    for key, allowed in LIST_FIELDS.items():
        if key in data:
            value = data[key] if data[key] is not None else []
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                errors[key] = ["Must be a list of codes."]
                continue
            bad = [v for v in value if v not in allowed]
            if bad:
                errors[key] = [f"Unknown: {', '.join(bad[:5])}. Allowed: {', '.join(allowed)}."]
            else:
                clean[key] = list(dict.fromkeys(value))  # unique, order kept
    for key in BOOL_FIELDS:
        if key in data:
            if not isinstance(data[key], bool):
                errors[key] = ["Must be true or false."]
            else:
                clean[key] = data[key]
    for key, limit in INT_FIELDS.items():
        if key in data:
            value = data[key]
            if value is None and key == "harmed_count":
                clean[key] = None
            elif isinstance(value, bool) or not isinstance(value, int):
                errors[key] = ["Must be a whole number."]
            elif value < 0 or value > limit:
                errors[key] = [f"Must be between 0 and {limit}."]
            else:
                clean[key] = value
    for key in TIME_FIELDS:
        if key in data and key not in errors:
            value = data[key]
            if not isinstance(value, datetime):
                errors[key] = ["Must be a date and time (ISO 8601)."]
            elif value.tzinfo is None:
                errors[key] = ["Give a time zone offset (for example +09:00 or Z)."]
            else:
                clean[key] = value.astimezone(timezone.utc)
    if "ai_system_id" in data:
        system_id = data["ai_system_id"]
        if system_id in (None, ""):
            clean["ai_system_id"] = None
        elif isinstance(system_id, bool) or not isinstance(system_id, int):
            errors["ai_system_id"] = ["Must be the id of an AI system."]
        elif _find_system(system_id) is None:
            # Another organisation's system is simply not found here.
            errors["ai_system_id"] = ["AI system not found."]
        else:
            clean["ai_system_id"] = system_id
    occurred = clean.get("occurred_at", getattr(current, "occurred_at", None))
    aware = clean.get("aware_at", getattr(current, "aware_at", None))
    now = utcnow() + timedelta(minutes=1)  # tolerate small clock skew of the client
    if "occurred_at" in clean and clean["occurred_at"] > now:
        errors["occurred_at"] = ["Cannot be in the future."]
    if "aware_at" in clean and clean["aware_at"] > now:
        errors["aware_at"] = ["Cannot be in the future."]
    if occurred and aware and occurred > aware and "aware_at" not in errors:
        errors.setdefault("aware_at", []).append("Must be at or after the time it occurred.")
    if errors:
        raise ValidationFailed(errors)
    return clean


def _find_system(system_id):
    return db.session.execute(select(AISystem.id).where(AISystem.id == system_id)).scalar_one_or_none()


def _next_number(session, org_id):
    # Core statement: the row lock (PostgreSQL) or write lock (SQLite) serialises numbering.
    table = Organisation.__table__
    stmt = (
        update(table)
        .where(table.c.id == org_id)
        .values(incident_seq=table.c.incident_seq + 1)
        .returning(table.c.incident_seq)
    )
    return session.connection().execute(stmt).scalar_one()


def _write_tags(session, incident, *, new=False):
    if not new:
        session.execute(delete(IncidentTag).where(IncidentTag.incident_id == incident.id))
    rows = []
    for attr, facet in TAG_FACETS.items():
        for value in getattr(incident, attr) or []:
            rows.append({"org_id": incident.org_id, "incident_id": incident.id, "facet": facet, "value": value})
    if rows:
        session.connection().execute(IncidentTag.__table__.insert(), rows)


def select_workflow(incident):
    """The workflow a new incident follows and why: ``(Definition, {"en": ..., "ja": ...})``."""
    from app.workflow import loader as workflows

    return workflows.select_for(incident)


def recompute_deadlines(session, incident):
    """Recompute the incident's deadlines and ``queue_due_at`` from its facts (the deadline engine)."""
    from app.incidents import deadlines

    return deadlines.recompute(session, incident)


def file_incident(*, actor, data, filed_at=None):
    """File a new incident for the actor's organisation; returns it.

    ``filed_at`` back-dates the filing (imports and the demo); default now.
    """
    clean = validate(data)
    clean.setdefault("kind", "incident")
    if filed_at is not None and filed_at < clean["aware_at"]:
        raise ValidationFailed({"aware_at": ["Must be at or before the filing time."]})
    # Everything that only reads (workflow selection, deadline rules) happens on the new,
    # not yet persistent object before the write lock is taken: the lock covers the writes.
    incident = Incident(org_id=actor.org_id, reporter_id=actor.id, **clean)
    incident.created_at = incident.updated_at = filed_at or utcnow()
    incident.state_entered_at = incident.created_at
    definition, reason = select_workflow(incident)
    incident.workflow, incident.workflow_version = definition.id, definition.version
    incident.state = definition.initial_state
    incident.deadlines = []  # new: nothing to load
    for key in LIST_FIELDS:
        if getattr(incident, key) is None:
            setattr(incident, key, [])
    recompute_deadlines(db.session(), incident)  # deadlines and queue_due_at go in with the INSERT
    with transaction() as s:
        incident.number = _next_number(s, actor.org_id)
        s.add(incident)
        s.flush()
        _write_tags(s, incident, new=True)
        s.add(TimelineEvent(
            org_id=actor.org_id, incident_id=incident.id, actor_id=actor.id, action="filed",
            at=incident.created_at,
            to_state=incident.state, data={"severity": incident.severity, "kind": incident.kind,
                                           "workflow": incident.workflow, "workflow_version": incident.workflow_version,
                                           "workflow_reason": reason},
        ))
        from app.ledger import service as ledger

        ledger.record("incident_filed", actor=actor, subject=incident, payload={
            "number": incident.number, "facts": dict(clean), "state": incident.state,
            "workflow": incident.workflow, "workflow_version": incident.workflow_version,
            "deadlines": [{"rule": d.rule, "due_at": d.due_at}
                          for d in sorted(incident.deadlines, key=lambda d: (d.rule, d.due_at))],
        })
        from app.escalation import service as escalation

        escalation.incident_filed(s, incident, actor=actor, now=incident.created_at)
    return incident


def _visible(stmt, actor):
    if actor.role in STAFF_ROLES:
        return stmt
    return stmt.where(Incident.reporter_id == actor.id)


def get_incident(*, actor, incident_id):
    """An incident the actor may see, or raise NotFound (also for other organisations')."""
    stmt = _visible(select(Incident).where(Incident.id == incident_id), actor)
    incident = db.session.execute(stmt).unique().scalar_one_or_none()
    if incident is None:
        raise NotFound("incident not found")
    return incident


def update_incident(*, actor, incident_id, version, data):
    """Edit an incident's facts with optimistic concurrency; returns it."""
    if actor.role not in STAFF_ROLES or actor.role == "executive":
        from app.errors import Forbidden

        # A reporter may not edit after filing; executives read.
        get_incident(actor=actor, incident_id=incident_id)
        raise Forbidden("your role may not edit incidents")
    incident = get_incident(actor=actor, incident_id=incident_id)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValidationFailed({"version": ["Required: the version you read."]})
    if incident.version != version:
        raise Conflict("the incident was changed by someone else; reload and try again",
                       fields={"version": [f"Current version is {incident.version}."]})
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise ValidationFailed({k: ["Cannot be changed here."] for k in sorted(unknown)})
    clean = validate(data, partial=True, current=incident)
    changes = {}
    for key, value in clean.items():
        old = getattr(incident, key)
        if old != value:
            changes[key] = [_jsonable(old), _jsonable(value)]
    if not changes:
        return incident
    try:
        with transaction() as s:
            for key, value in clean.items():
                setattr(incident, key, value)
            s.add(incident)
            s.flush()
            if "ai_system_id" in changes:
                s.expire(incident, ["ai_system"])
            if set(changes) & set(LIST_FIELDS):
                _write_tags(s, incident)
            if set(changes) & set(DEADLINE_FACTS):
                recompute_deadlines(s, incident)
                from app.escalation import service as escalation

                escalation.incident_changed(s, incident)
            s.add(TimelineEvent(
                org_id=incident.org_id, incident_id=incident.id, actor_id=actor.id,
                action="edited", data={"changes": changes},
            ))
            from app.ledger import service as ledger

            ledger.record("incident_edited", actor=actor, subject=incident,
                          payload={"number": incident.number, "changes": changes, "version_read": version})
    except StaleDataError:
        raise Conflict("the incident was changed by someone else; reload and try again") from None
    return incident


def _jsonable(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def encode_cursor(incident_id):
    """An opaque cursor for keyset pagination."""
    return base64.urlsafe_b64encode(f"i{incident_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor):
    """The incident id inside a cursor; raise ValidationFailed when malformed."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("i"):
            raise ValueError
        return int(raw[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed({"cursor": ["Not a valid cursor."]}) from None


FILTERS = ("state", "severity", "kind", "ai_system_id", "jurisdiction", "harm_type", "principle", "q", "mine")


def list_incidents(*, actor, filters=None, limit=50, cursor=None):
    """Incidents the actor may see, newest first, keyset-paginated: (items, next_cursor)."""
    filters = filters or {}
    stmt = _visible(select(Incident), actor)
    for key in ("state", "severity", "kind"):
        if filters.get(key):
            stmt = stmt.where(getattr(Incident, key) == filters[key])
    if filters.get("ai_system_id") and filters["ai_system_id"] != "none":
        try:
            system_id = int(filters["ai_system_id"])
        except (TypeError, ValueError):
            raise ValidationFailed({"ai_system_id": ["Must be the id of an AI system, or none."]}) from None
        stmt = stmt.where(Incident.ai_system_id == system_id)
    for key, facet in (("jurisdiction", "jurisdiction"), ("harm_type", "harm_type"), ("principle", "principle")):
        if filters.get(key):
            stmt = stmt.where(exists().where(and_(
                IncidentTag.incident_id == Incident.id, IncidentTag.facet == facet, IncidentTag.value == filters[key],
            )))
    if filters.get("q"):
        # Full text over title, description and timeline comments (app/search): FTS5 trigrams
        # on SQLite, pg_trgm indexes on PostgreSQL; Japanese words found mid-sentence.
        matching = search.search_incident_ids(org_id=actor.org_id, query=filters["q"])
        if matching is not None:
            stmt = stmt.where(Incident.id.in_(matching))
    if filters.get("mine"):
        stmt = stmt.where(or_(Incident.reporter_id == actor.id, Incident.assignee_id == actor.id))
    stmt = _dashboard_filters(stmt, filters)
    if cursor:
        stmt = stmt.where(Incident.id < decode_cursor(cursor))
    stmt = stmt.order_by(Incident.id.desc()).limit(limit + 1)
    items = list(db.session.execute(stmt).unique().scalars())
    next_cursor = encode_cursor(items[limit - 1].id) if len(items) > limit else None
    return items[:limit], next_cursor


def _instant(value):
    """A filter's time bound: a datetime, or ISO 8601 text (a date is its UTC midnight)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed({"filter": [f"Not a date or time: {value}."]}) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# The dashboard's figures link to the incidents behind them with these filters (all optional):
# open, filed_since/filed_until (created_at), acknowledged_since/until, resolved_since/until,
# ai_system_id=none, actor_role (of the AI system), overdue and due_within_days (unmet regulatory
# or internal deadlines), target (met_on_time|met_late|overdue) with target_due_since/until
# (response targets, the state_target deadlines).
_TIME_BOUNDS = {
    "filed_since": ("created_at", ">="), "filed_until": ("created_at", "<"),
    "acknowledged_since": ("acknowledged_at", ">="), "acknowledged_until": ("acknowledged_at", "<"),
    "resolved_since": ("resolved_at", ">="), "resolved_until": ("resolved_at", "<"),
}


def _dashboard_filters(stmt, filters):
    if str(filters.get("open") or "") in ("1", "true", "True"):
        stmt = stmt.where(Incident.is_open.is_(True))
    for key, (column, op) in _TIME_BOUNDS.items():
        if filters.get(key):
            col, bound = getattr(Incident, column), _instant(filters[key])
            stmt = stmt.where(col >= bound if op == ">=" else col < bound)
    if filters.get("ai_system_id") == "none":
        stmt = stmt.where(Incident.ai_system_id.is_(None))
    if filters.get("actor_role"):
        if filters["actor_role"] == "none":
            stmt = stmt.where(Incident.ai_system_id.is_(None))
        else:
            stmt = stmt.where(exists().where(and_(
                AISystem.id == Incident.ai_system_id, AISystem.actor_role == filters["actor_role"])))
    now = utcnow()
    unmet = and_(Deadline.incident_id == Incident.id, Deadline.met_at.is_(None),
                 Deadline.kind.in_(("regulatory", "internal")))
    if filters.get("overdue"):
        stmt = stmt.where(Incident.is_open.is_(True), exists().where(and_(unmet, Deadline.due_at < now)))
    if filters.get("due_within_days"):
        try:
            days = max(0, min(int(filters["due_within_days"]), 366))
        except (TypeError, ValueError):
            raise ValidationFailed({"due_within_days": ["Must be a whole number."]}) from None
        stmt = stmt.where(Incident.is_open.is_(True), exists().where(and_(
            unmet, Deadline.due_at >= now, Deadline.due_at < now + timedelta(days=days))))
    target = filters.get("target")
    if target in ("met_on_time", "met_late", "overdue"):
        cond = [Deadline.incident_id == Incident.id, Deadline.kind == "state_target"]
        if filters.get("target_due_since"):
            cond.append(Deadline.due_at >= _instant(filters["target_due_since"]))
        if filters.get("target_due_until"):
            cond.append(Deadline.due_at < _instant(filters["target_due_until"]))
        if target == "met_on_time":
            cond += [Deadline.met_at.is_not(None), Deadline.met_at <= Deadline.due_at]
        elif target == "met_late":
            cond += [Deadline.met_at.is_not(None), Deadline.met_at > Deadline.due_at]
        else:
            cond += [Deadline.met_at.is_(None), Deadline.due_at < now]
        stmt = stmt.where(exists().where(and_(*cond)))
    return stmt


def incidents_for_system(*, actor, system_id, limit=50):
    """The latest incidents linked to one AI system."""
    items, _ = list_incidents(actor=actor, filters={"ai_system_id": system_id}, limit=limit)
    return items


def timeline(*, actor, incident_id):
    """The incident's events, oldest first."""
    get_incident(actor=actor, incident_id=incident_id)
    stmt = select(TimelineEvent).where(TimelineEvent.incident_id == incident_id).order_by(TimelineEvent.at, TimelineEvent.id)
    return list(db.session.execute(stmt).scalars())


def can_see_reporter(*, viewer, incident):
    """Confidential filings hide the reporter from everyone but admins (and the reporter)."""
    if not incident.confidential:
        return True
    return viewer.role == "admin" or viewer.id == incident.reporter_id


def timeline_with_incident(*, actor, incident_id):
    """The incident the actor may see and its events, oldest first: (incident, events)."""
    incident = get_incident(actor=actor, incident_id=incident_id)
    stmt = select(TimelineEvent).where(TimelineEvent.incident_id == incident.id).order_by(TimelineEvent.at, TimelineEvent.id)
    return incident, list(db.session.execute(stmt).scalars())
