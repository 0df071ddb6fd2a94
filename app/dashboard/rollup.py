"""Keeps ``dashboard_daily`` in step with incidents, in the same transaction (a before_flush hook).

Every flush that inserts, changes or deletes an Incident, or a response target (a Deadline of kind
``state_target``), adds the difference of its contributions (old facts: -1, new facts: +1) to the
daily rows with one upsert per row touched. ``backfill`` rebuilds the rows of every organisation
from the incidents and their response targets (the migration and the benchmark's bulk seeding use
it).
"""
from collections import defaultdict
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import delete, event, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, attributes

from app.dashboard.models import DailyFigure
from app.incidents.models import Deadline, Incident
from app.orgs.models import Organisation

FIELDS = ("org_id", "created_at", "severity", "ai_system_id", "harm_types", "principles", "jurisdictions",
          "acknowledged_at", "resolved_at", "is_open", "state", "workflow", "workflow_version")
# Open incidents are a snapshot, not a history: one row per (state, severity, workflow, version) on
# this day (metric ``open``), whatever the day they were filed.
OPEN_DAY = date(1970, 1, 1)
SEP = "\t"
TARGET_FIELDS = ("org_id", "kind", "due_at", "met_at")
TARGET = "state_target"
TAGS = (("harm_types", "harm_type"), ("principles", "principle"), ("jurisdictions", "jurisdiction"))
_ZONES = {}


def _zone(connection, org_id):
    zone = _ZONES.get(org_id)
    if zone is None:
        name = connection.execute(select(Organisation.timezone).where(Organisation.id == org_id)).scalar()
        zone = _ZONES[org_id] = ZoneInfo(name or "Asia/Tokyo")
    return zone


def open_key(state, severity, workflow, version):
    """The key of an ``open`` row."""
    return SEP.join((state or "", severity or "", workflow or "", str(version if version is not None else "")))


def parse_open_key(key):
    """(state, severity, workflow, version) of an ``open`` row's key."""
    state, severity, workflow, version = key.split(SEP)
    return state, severity, workflow, int(version) if version else None


def contributions(facts, zone):
    """The (day, metric, key, n, seconds) rows one incident's facts add."""
    rows = []
    # Before its first flush a new incident's is_open / workflow_version may still be None: the
    # column defaults (True, 1) apply.
    if facts["is_open"] is not False and facts["state"] is not None:
        version = facts["workflow_version"] if facts["workflow_version"] is not None else 1
        rows.append((OPEN_DAY, "open", open_key(facts["state"], facts["severity"], facts["workflow"], version),
                     1, 0.0))
    created = facts["created_at"]
    if created is None:
        return rows
    day = created.astimezone(zone).date()
    system = facts["ai_system_id"]
    rows += [(day, "filed", "", 1, 0.0), (day, "filed", f"severity:{facts['severity']}", 1, 0.0),
             (day, "filed", f"system:{system if system is not None else 'none'}", 1, 0.0)]
    for attr, facet in TAGS:
        for value in dict.fromkeys(facts[attr] or ()):
            rows.append((day, "filed", f"{facet}:{value}"[:80], 1, 0.0))
    for attr, metric in (("acknowledged_at", "ack"), ("resolved_at", "res")):
        at = facts[attr]
        if at is not None:
            rows.append((at.astimezone(zone).date(), metric, "", 1, (at - created).total_seconds()))
    return rows


def target_contributions(facts, zone):
    """The (day, metric, key, n, seconds) row one response target adds: metric ``tgt`` on its due day
    (org zone), key ``met_on_time``, ``met_late`` or ``unmet``."""
    due, met = facts["due_at"], facts["met_at"]
    if facts["kind"] != TARGET or due is None:
        return []
    outcome = "unmet" if met is None else "met_on_time" if met <= due else "met_late"
    return [(due.astimezone(zone).date(), "tgt", outcome, 1, 0.0)]


DUE_FIELDS = ("org_id", "kind", "due_at", "met_at")
DUE_KINDS = ("regulatory", "internal")


def due_contributions(facts, zone):
    """The row an unmet regulatory or internal deadline of an open incident adds: metric ``due``,
    key ``unmet``, on its due day (org zone)."""
    if facts["kind"] not in DUE_KINDS or facts["met_at"] is not None or facts["due_at"] is None \
            or facts["open"] is False:
        return []
    return [(facts["due_at"].astimezone(zone).date(), "due", "unmet", 1, 0.0)]


def _was_open(session, incident):
    if incident is None:
        return None
    hist = attributes.get_history(incident, "is_open")
    if hist.deleted:
        return hist.deleted[0]
    if hist.unchanged:
        return hist.unchanged[0]
    return None if incident in session.new else incident.is_open


def _collect_due(session, connection, deltas):
    """Deadlines whose unmet-and-open facts may have changed in this flush: -old, +new."""
    seen, removed, owner = {}, set(), {}
    for group in (session.new, session.dirty, session.deleted):
        for obj in group:
            if isinstance(obj, Deadline):
                seen[id(obj)] = obj
    for obj in list(session.dirty) + list(session.deleted):
        if not isinstance(obj, Incident):
            continue
        for d in attributes.get_history(obj, "deadlines").deleted or ():
            seen[id(d)] = d
            removed.add(id(d))
            owner[id(d)] = obj  # an orphan's ``incident`` is already None
        changed = obj in session.deleted or attributes.get_history(obj, "is_open").has_changes()
        if changed:
            for d in obj.deadlines:
                seen[id(d)] = d
    for key, d in seen.items():
        incident = owner.get(key) or d.incident
        if d not in session.new:
            old = _old_facts(d, DUE_FIELDS)
            old["open"] = _was_open(session, incident)
            _add(deltas, old["org_id"], due_contributions(old, _zone(connection, old["org_id"])), -1)
        if key in removed or d in session.deleted or (incident is not None and incident in session.deleted):
            continue
        new = _facts(d, DUE_FIELDS)
        new["open"] = incident.is_open if incident is not None else None
        if new["open"] is None:
            new["open"] = True  # the column default of a new incident
        _add(deltas, new["org_id"], due_contributions(new, _zone(connection, new["org_id"])), +1)


def _old_facts(obj, fields=FIELDS):
    out = {}
    for name in fields:
        hist = attributes.get_history(obj, name)
        if hist.deleted:
            out[name] = hist.deleted[0]
        elif hist.unchanged:
            out[name] = hist.unchanged[0]
        else:
            out[name] = None if hist.added else getattr(obj, name)
    return out


def _facts(obj, fields=FIELDS):
    return {name: getattr(obj, name) for name in fields}


def _norm(facts):
    return tuple(tuple(v) if isinstance(v, list) else v for v in facts.values())


def apply(connection, deltas):
    """Add ``{(org_id, day, metric, key): [n, seconds]}`` to the daily rows: one upsert
    statement (compiled once, cached) executed with every row's parameters."""
    rows = [{"org_id": org_id, "day": day, "metric": metric, "key": key, "n": n, "seconds": seconds}
            for (org_id, day, metric, key), (n, seconds) in deltas.items()
            if n != 0 or abs(seconds) >= 1e-9]
    if rows:
        connection.execute(_upsert(connection.dialect.name), rows)


_UPSERTS = {}


def _upsert(dialect):
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        table = DailyFigure.__table__
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert(table)
        stmt = _UPSERTS[dialect] = stmt.on_conflict_do_update(
            index_elements=["org_id", "day", "metric", "key"],
            set_={"n": table.c.n + stmt.excluded.n, "seconds": table.c.seconds + stmt.excluded.seconds})
    return stmt


def _add(deltas, org_id, rows, sign):
    for day, metric, key, n, seconds in rows:
        cell = deltas[(org_id, day, metric, key)]
        cell[0] += sign * n
        cell[1] += sign * seconds


def _collect(session, connection, deltas, cls, fields, rules):
    for obj in session.new:
        if isinstance(obj, cls):
            facts = _facts(obj, fields)
            _add(deltas, facts["org_id"], rules(facts, _zone(connection, facts["org_id"])), +1)
    for obj in session.dirty:
        if not isinstance(obj, cls) or not session.is_modified(obj):
            continue
        old, new = _old_facts(obj, fields), _facts(obj, fields)
        if _norm(old) == _norm(new):
            continue
        _add(deltas, old["org_id"], rules(old, _zone(connection, old["org_id"])), -1)
        _add(deltas, new["org_id"], rules(new, _zone(connection, new["org_id"])), +1)
    for obj in session.deleted:
        if isinstance(obj, cls):
            old = _old_facts(obj, fields)
            _add(deltas, old["org_id"], rules(old, _zone(connection, old["org_id"])), -1)


@event.listens_for(Session, "before_flush")
def _before_flush(session, flush_context, instances):
    kinds = (Incident, Deadline)
    if not any(isinstance(o, kinds) for group in (session.new, session.dirty, session.deleted) for o in group):
        return
    connection = session.connection()
    deltas = defaultdict(lambda: [0, 0.0])
    _collect(session, connection, deltas, Incident, FIELDS, contributions)
    _collect(session, connection, deltas, Deadline, TARGET_FIELDS, target_contributions)
    _collect_due(session, connection, deltas)
    apply(connection, deltas)


def backfill(connection, batch=20_000):
    """Rebuild every organisation's daily rows from its incidents (returns the incidents read)."""
    _ZONES.clear()
    table = Incident.__table__
    connection.execute(delete(DailyFigure.__table__))
    deltas = defaultdict(lambda: [0, 0.0])
    cols = [table.c[name] for name in FIELDS]
    count = 0
    result = connection.execute(select(*cols).order_by(table.c.id).execution_options(yield_per=batch))
    for row in result:
        facts = dict(zip(FIELDS, row))
        _add(deltas, facts["org_id"], contributions(facts, _zone(connection, facts["org_id"])), +1)
        count += 1
    table = Deadline.__table__
    cols = [table.c[name] for name in TARGET_FIELDS]
    result = connection.execute(select(*cols).where(table.c.kind == TARGET).order_by(table.c.id)
                                .execution_options(yield_per=batch))
    for row in result:
        facts = dict(zip(TARGET_FIELDS, row))
        _add(deltas, facts["org_id"], target_contributions(facts, _zone(connection, facts["org_id"])), +1)
    inc = Incident.__table__
    result = connection.execute(
        select(table.c.org_id, table.c.kind, table.c.due_at, table.c.met_at, inc.c.is_open)
        .join(inc, inc.c.id == table.c.incident_id)
        .where(table.c.kind.in_(DUE_KINDS), table.c.met_at.is_(None)).execution_options(yield_per=batch))
    for row in result:
        facts = dict(zip(DUE_FIELDS + ("open",), row))
        _add(deltas, facts["org_id"], due_contributions(facts, _zone(connection, facts["org_id"])), +1)
    apply(connection, deltas)
    return count


def total_rows(connection):
    """How many daily rows there are (diagnostics)."""
    return connection.execute(select(func.count()).select_from(DailyFigure.__table__)).scalar()
