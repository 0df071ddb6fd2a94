"""Keeps ``dashboard_daily`` in step with incidents, in the same transaction (a before_flush hook).

Every flush that inserts, changes or deletes an Incident adds the difference of its contributions
(old facts: -1, new facts: +1) to the daily rows with one upsert per row touched. ``backfill``
rebuilds the rows of every organisation from the incidents (the migration and the benchmark's
bulk seeding use it).
"""
from collections import defaultdict
from zoneinfo import ZoneInfo

from sqlalchemy import delete, event, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, attributes

from app.dashboard.models import DailyFigure
from app.incidents.models import Incident
from app.orgs.models import Organisation

FIELDS = ("org_id", "created_at", "severity", "ai_system_id", "harm_types", "principles", "jurisdictions",
          "acknowledged_at", "resolved_at")
TAGS = (("harm_types", "harm_type"), ("principles", "principle"), ("jurisdictions", "jurisdiction"))
_ZONES = {}


def _zone(connection, org_id):
    zone = _ZONES.get(org_id)
    if zone is None:
        name = connection.execute(select(Organisation.timezone).where(Organisation.id == org_id)).scalar()
        zone = _ZONES[org_id] = ZoneInfo(name or "Asia/Tokyo")
    return zone


def contributions(facts, zone):
    """The (day, metric, key, n, seconds) rows one incident's facts add."""
    created = facts["created_at"]
    if created is None:
        return []
    day = created.astimezone(zone).date()
    system = facts["ai_system_id"]
    rows = [(day, "filed", "", 1, 0.0), (day, "filed", f"severity:{facts['severity']}", 1, 0.0),
            (day, "filed", f"system:{system if system is not None else 'none'}", 1, 0.0)]
    for attr, facet in TAGS:
        for value in dict.fromkeys(facts[attr] or ()):
            rows.append((day, "filed", f"{facet}:{value}"[:80], 1, 0.0))
    for attr, metric in (("acknowledged_at", "ack"), ("resolved_at", "res")):
        at = facts[attr]
        if at is not None:
            rows.append((at.astimezone(zone).date(), metric, "", 1, (at - created).total_seconds()))
    return rows


def _old_facts(obj):
    out = {}
    for name in FIELDS:
        hist = attributes.get_history(obj, name)
        if hist.deleted:
            out[name] = hist.deleted[0]
        elif hist.unchanged:
            out[name] = hist.unchanged[0]
        else:
            out[name] = None if hist.added else getattr(obj, name)
    return out


def _facts(obj):
    return {name: getattr(obj, name) for name in FIELDS}


def _norm(facts):
    return tuple(tuple(v) if isinstance(v, list) else v for v in facts.values())


def apply(connection, deltas):
    """Add ``{(org_id, day, metric, key): [n, seconds]}`` to the daily rows (upserts)."""
    table = DailyFigure.__table__
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    for (org_id, day, metric, key), (n, seconds) in deltas.items():
        if n == 0 and abs(seconds) < 1e-9:
            continue
        stmt = insert(table).values(org_id=org_id, day=day, metric=metric, key=key, n=n, seconds=seconds)
        stmt = stmt.on_conflict_do_update(
            index_elements=["org_id", "day", "metric", "key"],
            set_={"n": table.c.n + stmt.excluded.n, "seconds": table.c.seconds + stmt.excluded.seconds})
        connection.execute(stmt)


def _add(deltas, org_id, rows, sign):
    for day, metric, key, n, seconds in rows:
        cell = deltas[(org_id, day, metric, key)]
        cell[0] += sign * n
        cell[1] += sign * seconds


@event.listens_for(Session, "before_flush")
def _before_flush(session, flush_context, instances):
    touched = [o for o in session.new if isinstance(o, Incident)]
    dirty = [o for o in session.dirty if isinstance(o, Incident) and session.is_modified(o)]
    gone = [o for o in session.deleted if isinstance(o, Incident)]
    if not (touched or dirty or gone):
        return
    connection = session.connection()
    deltas = defaultdict(lambda: [0, 0.0])
    for obj in touched:
        facts = _facts(obj)
        _add(deltas, facts["org_id"], contributions(facts, _zone(connection, facts["org_id"])), +1)
    for obj in dirty:
        old, new = _old_facts(obj), _facts(obj)
        if _norm(old) == _norm(new):
            continue
        _add(deltas, old["org_id"], contributions(old, _zone(connection, old["org_id"])), -1)
        _add(deltas, new["org_id"], contributions(new, _zone(connection, new["org_id"])), +1)
    for obj in gone:
        old = _old_facts(obj)
        _add(deltas, old["org_id"], contributions(old, _zone(connection, old["org_id"])), -1)
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
    apply(connection, deltas)
    return count


def total_rows(connection):
    """How many daily rows there are (diagnostics)."""
    return connection.execute(select(func.count()).select_from(DailyFigure.__table__)).scalar()
