"""The response leads' queues: open incidents by nearest deadline, and who works them.

The queue is every OPEN incident of the organisation, ordered by the nearest unmet
deadline (``Incident.queue_due_at``, FAR_FUTURE when none), then severity (``sev1``
first: the codes sort), then id. Pages are keyset pages on exactly that triple, so
each page is one range of the index ``ix_incident_queue`` (org_id, is_open,
queue_due_at, severity, id) and never an OFFSET.

Rows are read as plain columns (no ORM entities, no relationship loads): a page is
one SELECT. Assignment (assign, claim, unassign, bulk assign) writes a timeline event
in the same transaction as the change.
"""
import base64
import binascii
import copy
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import and_, case, exists, func, select, tuple_
from sqlalchemy.orm.exc import StaleDataError

from app.db import transaction, utcnow
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.incidents import vocab
from app.incidents.models import FAR_FUTURE, Incident, IncidentTag, TimelineEvent
from app.orgs.models import User

# Roles that see and work the queue; reporters and executives get 403.
QUEUE_ROLES = ("responder", "lead", "admin")
# Roles that may assign anyone (responders only claim and unassign themselves).
ASSIGNER_ROLES = ("lead", "admin")
# Roles an assignee may have.
ASSIGNABLE_ROLES = ("responder", "lead", "admin")
FILTERS = ("state", "severity", "assignee", "ai_system_id", "jurisdiction", "overdue", "due_within_24h")
MAX_LIMIT = 200
BULK_MAX = 500
SOON = timedelta(hours=24)


@dataclass(slots=True)
class QueueItem:
    """One row of the queue, read as plain columns."""

    id: int
    number: int
    title: str
    severity: str
    state: str
    queue_due_at: datetime
    version: int
    ai_system_id: int | None
    assignee_id: int | None
    assignee_name: str | None
    org_id: int
    workflow: str
    workflow_version: int

    @property
    def ref(self):
        """The reference people quote, e.g. ``AI-0042``."""
        return f"AI-{self.number:04d}"

    @property
    def due_at(self):
        """The nearest unmet deadline, or None when the incident has none."""
        return None if self.queue_due_at >= FAR_FUTURE else self.queue_due_at

    def is_overdue(self, now=None):
        """True when the nearest deadline has passed."""
        due = self.due_at
        return due is not None and due < (now or utcnow())


_COLUMNS = (
    Incident.id, Incident.number, Incident.title, Incident.severity, Incident.state,
    Incident.queue_due_at, Incident.version, Incident.ai_system_id, Incident.assignee_id,
    User.name.label("assignee_name"), Incident.org_id, Incident.workflow, Incident.workflow_version,
)


def _require_queue_role(actor):
    if actor.role not in QUEUE_ROLES:
        raise Forbidden("the queue is for responders, leads and admins")


# ---------------------------------------------------------------- cursors


def encode_cursor(item):
    """An opaque cursor that points just after ``item`` in queue order."""
    due = item.queue_due_at.astimezone(timezone.utc).isoformat()
    raw = json.dumps([due, item.severity, item.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor):
    """(queue_due_at, severity, id) inside a cursor; raise ValidationFailed when malformed."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        due, severity, incident_id = json.loads(raw)
        due = datetime.fromisoformat(due)
        if due.tzinfo is None or not isinstance(severity, str) or type(incident_id) is not int:
            raise ValueError
        return due, severity, incident_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed({"cursor": ["Not a valid cursor."]}) from None


# ---------------------------------------------------------------- reading


def default_filters(actor):
    """The filters a user's queue starts with: responders see their own ("my queue")."""
    return {"assignee": "me"} if actor.role == "responder" else {}


def _assignee_value(actor, value):
    """``me`` -> the actor's id, ``none`` -> None, ``any`` -> no filter, else an id."""
    if value in (None, "", "any"):
        return "any"
    if value == "me":
        return actor.id
    if value == "none":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise ValidationFailed({"assignee": ["Must be a user id, me, none or any."]})


def _filtered(stmt, actor, filters, now):
    for key in ("state", "severity"):
        if filters.get(key):
            stmt = stmt.where(getattr(Incident, key) == filters[key])
    if filters.get("ai_system_id"):
        stmt = stmt.where(Incident.ai_system_id == filters["ai_system_id"])
    if filters.get("jurisdiction"):
        stmt = stmt.where(exists().where(and_(
            IncidentTag.incident_id == Incident.id, IncidentTag.facet == "jurisdiction",
            IncidentTag.value == filters["jurisdiction"],
        )))
    assignee = _assignee_value(actor, filters.get("assignee"))
    if assignee is None:
        stmt = stmt.where(Incident.assignee_id.is_(None))
    elif assignee != "any":
        stmt = stmt.where(Incident.assignee_id == assignee)
    if filters.get("overdue"):
        stmt = stmt.where(Incident.queue_due_at < now)
    if filters.get("due_within_24h"):
        stmt = stmt.where(Incident.queue_due_at >= now, Incident.queue_due_at < now + SOON)
    return stmt


def queue(*, actor, filters=None, limit=50, cursor=None):
    """A page of the actor's organisation's open incidents, nearest deadline first: (items, next_cursor).

    ``filters``: state, severity, assignee (an id, ``me``, ``none`` or ``any``), ai_system_id,
    jurisdiction, overdue, due_within_24h. Without an ``assignee`` filter a responder gets
    "my queue" (``assignee=me``); pass ``any`` for every open incident.
    """
    _require_queue_role(actor)
    filters = dict(filters or {})
    if "assignee" not in filters:
        filters.update(default_filters(actor))
    limit = max(1, min(int(limit), MAX_LIMIT))
    now = utcnow()
    stmt = (
        select(*_COLUMNS)
        .outerjoin(User, User.id == Incident.assignee_id)
        .where(Incident.is_open.is_(True))
    )
    stmt = _filtered(stmt, actor, filters, now)
    if cursor:
        due, severity, incident_id = decode_cursor(cursor)
        key = tuple_(Incident.queue_due_at, Incident.severity, Incident.id)
        stmt = stmt.where(key > tuple_(due, severity, incident_id))
    # LIMIT as a suffix: SQLAlchemy's SQLite dialect renders .limit() as "LIMIT ? OFFSET ?" (offset 0);
    # the queue never has an OFFSET, not even a zero one. ``limit`` is an int, clamped above.
    stmt = stmt.order_by(Incident.queue_due_at, Incident.severity, Incident.id).suffix_with(f"LIMIT {limit + 1:d}")
    rows = db.session.execute(stmt).all()
    items = [QueueItem(*row) for row in rows[:limit]]
    next_cursor = encode_cursor(items[-1]) if len(rows) > limit else None
    return items, next_cursor


# Tab counts are cached per (organisation, user) for a few seconds in each process: they cost a
# scan of the organisation's open incidents (O(open), e.g. ~85 ms at 33k open on SQLite), the page
# itself costs one index range. Writes made through this module clear the organisation's entries;
# other writers' changes show within the TTL. QUEUE_COUNTS_TTL_SECONDS = 0 turns the cache off.
_COUNTS_CACHE = {}
_COUNTS_CACHE_MAX = 10_000


def _counts_ttl():
    return current_app.config.get("QUEUE_COUNTS_TTL_SECONDS", 0 if current_app.testing else 5)


def _forget_counts(org_id):
    for key in [k for k in _COUNTS_CACHE if k[0] == org_id]:
        _COUNTS_CACHE.pop(key, None)


def counts(*, actor):
    """Counts for the queue tabs: open, mine, unassigned, overdue, due_24h and by_severity.

    Cached for ``QUEUE_COUNTS_TTL_SECONDS`` (default 5; 0 under tests) per organisation and user.
    """
    _require_queue_role(actor)
    ttl = _counts_ttl()
    key = (actor.org_id, actor.id)
    if ttl > 0:
        hit = _COUNTS_CACHE.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return copy.deepcopy(hit[1])
    value = _count(actor)
    if ttl > 0:
        if len(_COUNTS_CACHE) >= _COUNTS_CACHE_MAX:
            _COUNTS_CACHE.clear()
        _COUNTS_CACHE[key] = (time.monotonic() + ttl, copy.deepcopy(value))
    return value


def _count(actor):
    now = utcnow()
    session = db.session
    open_ = Incident.is_open.is_(True)
    due = Incident.queue_due_at
    # One index-only scan of the open range of ix_incident_queue (org_id, is_open, queue_due_at,
    # severity, id): no GROUP BY, which would tempt the planner onto (org_id, severity, id).
    row = session.execute(
        select(
            *(func.count(case((Incident.severity == code, Incident.id))) for code in vocab.SEVERITIES),
            func.count(case((due < now, Incident.id))),
            func.count(case((and_(due >= now, due < now + SOON), Incident.id))),
            func.count(Incident.id),
        ).where(open_, due <= FAR_FUTURE)
    ).one()
    by_severity = dict(zip(vocab.SEVERITIES, row[:len(vocab.SEVERITIES)]))
    overdue, due_24h, total = row[len(vocab.SEVERITIES):]
    # Two index-only counts on ix_incident_assignee (org_id, is_open, assignee_id).
    unassigned = session.execute(
        select(func.count(Incident.id)).where(open_, Incident.assignee_id.is_(None))
    ).scalar_one()
    mine = session.execute(
        select(func.count(Incident.id)).where(open_, Incident.assignee_id == actor.id)
    ).scalar_one()
    return {
        "open": total, "mine": mine, "unassigned": unassigned,
        "overdue": overdue, "due_24h": due_24h, "by_severity": by_severity,
    }


def assignable_users(*, actor):
    """Active responders, leads and admins of the actor's organisation, by name."""
    stmt = (select(User).where(User.active.is_(True), User.role.in_(ASSIGNABLE_ROLES))
            .order_by(User.name, User.id))
    return list(db.session.execute(stmt).scalars())


# ---------------------------------------------------------------- assignment


def _assignee(assignee_id):
    """The user to assign: another organisation's user (or none) is NotFound; 422 when unfit."""
    if assignee_id is None:
        return None
    if isinstance(assignee_id, bool) or not isinstance(assignee_id, int):
        raise ValidationFailed({"assignee_id": ["Must be a user id or null."]})
    user = db.session.execute(select(User).where(User.id == assignee_id)).scalar_one_or_none()
    if user is None:
        raise NotFound("user not found")
    if not user.active:
        raise ValidationFailed({"assignee_id": ["The user is not active."]})
    if user.role not in ASSIGNABLE_ROLES:
        raise ValidationFailed({"assignee_id": ["Only responders, leads and admins can be assigned."]})
    return user


def _user_ref(user):
    return None if user is None else {"id": user.id, "name": user.name}


def _action(actor, assignee):
    if assignee is None:
        return "unassigned"
    return "claimed" if assignee.id == actor.id else "assigned"


def _check_may_assign(actor, incident, assignee):
    """Leads and admins assign anyone; a responder claims an unassigned incident or lets go of theirs."""
    if actor.role in ASSIGNER_ROLES:
        return
    if actor.role != "responder":
        raise Forbidden("your role may not assign incidents")
    if assignee is not None and assignee.id == actor.id and incident.assignee_id in (None, actor.id):
        return
    if assignee is None and incident.assignee_id == actor.id:
        return
    raise Forbidden("responders may only claim unassigned incidents and unassign themselves")


def _set_assignee(session, actor, incident, assignee, *, bulk=False):
    """Change the assignee and write the timeline event and the ledger entry (inside the caller's transaction)."""
    before = incident.assignee
    incident.assignee_id = assignee.id if assignee else None
    incident.assignee = assignee
    session.add(TimelineEvent(
        org_id=incident.org_id, incident_id=incident.id, actor_id=actor.id, action=_action(actor, assignee),
        data={"from": _user_ref(before), "to": _user_ref(assignee)},
    ))
    from app.ledger import service as ledger

    ledger.record(_action(actor, assignee), actor=actor, subject=incident, payload={
        "number": incident.number, "from": _user_ref(before), "to": _user_ref(assignee), "bulk": bulk})


def _load_incident(session, incident_id):
    incident = session.execute(select(Incident).where(Incident.id == incident_id)).unique().scalar_one_or_none()
    if incident is None:
        raise NotFound("incident not found")
    return incident


def assign(*, actor, incident_id, assignee_id, version=None):
    """Assign an incident to a user (None unassigns), optionally against the version read; returns it."""
    _require_queue_role(actor)
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ValidationFailed({"version": ["Must be the version you read."]})
    try:
        with transaction() as s:
            incident = _load_incident(s, incident_id)
            assignee = _assignee(assignee_id)
            _check_may_assign(actor, incident, assignee)
            if version is not None and incident.version != version:
                raise Conflict("the incident was changed by someone else; reload and try again",
                               fields={"version": [f"Current version is {incident.version}."]})
            if incident.assignee_id != (assignee.id if assignee else None):
                _set_assignee(s, actor, incident, assignee)
                s.flush()
    except StaleDataError:
        raise Conflict("the incident was changed by someone else; reload and try again") from None
    _forget_counts(actor.org_id)
    return incident


def claim(*, actor, incident_id, version=None):
    """Assign the incident to the actor."""
    return assign(actor=actor, incident_id=incident_id, assignee_id=actor.id, version=version)


def unassign(*, actor, incident_id, version=None):
    """Leave the incident unassigned."""
    return assign(actor=actor, incident_id=incident_id, assignee_id=None, version=version)


def bulk_assign(*, actor, incident_ids, assignee_id):
    """Assign many incidents in one transaction, all or nothing; returns them.

    Ids that are not incidents of the organisation make it a 422 that lists them.
    """
    _require_queue_role(actor)
    if actor.role not in ASSIGNER_ROLES:
        raise Forbidden("only leads and admins assign in bulk")
    if not isinstance(incident_ids, (list, tuple)) or not incident_ids:
        raise ValidationFailed({"incident_ids": ["Give at least one incident id."]})
    if any(isinstance(i, bool) or not isinstance(i, int) for i in incident_ids):
        raise ValidationFailed({"incident_ids": ["Must be a list of incident ids."]})
    ids = list(dict.fromkeys(incident_ids))
    if len(ids) > BULK_MAX:
        raise ValidationFailed({"incident_ids": [f"At most {BULK_MAX} at a time."]})
    try:
        with transaction() as s:
            assignee = _assignee(assignee_id)
            found = {i.id: i for i in s.execute(select(Incident).where(Incident.id.in_(ids))).unique().scalars()}
            missing = [i for i in ids if i not in found]
            if missing:
                raise ValidationFailed(
                    {"incident_ids": [f"Not found: {', '.join(str(i) for i in missing)}."]},
                    message="Some incidents were not found; nothing was assigned.",
                )
            target = assignee.id if assignee else None
            for incident_id in ids:
                incident = found[incident_id]
                if incident.assignee_id != target:
                    _set_assignee(s, actor, incident, assignee, bulk=True)

            s.flush()
    except StaleDataError:
        raise Conflict("an incident was changed by someone else; nothing was assigned") from None
    _forget_counts(actor.org_id)
    return [found[i] for i in ids]
