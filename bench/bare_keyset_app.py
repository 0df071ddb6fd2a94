"""The baseline for the read benchmarks: bare Flask + Flask-SQLAlchemy pages of our incident table.

Reads the same tables as our app (the benchmark points both at one database, SQLite or
PostgreSQL), organisation 1, after checking a constant bearer token; each route answers JSON
(``.json``) or a small Jinja page (``.html``). No tenancy, roles, sessions, i18n or forms:

- ``/queue.json|html``: one keyset SELECT of 50 open incidents ordered by (queue_due_at, severity, id);
- ``/incidents/<id>.json|html``: the incident's row and its deadlines (two SELECTs);
- ``/dashboard.json|html``: a simple count-based dashboard (open incidents by severity and by
  state, unmet deadlines past due: three COUNTs the indexes answer);
- ``/search.json|html?q=term``: the newest 50 incidents whose title or description holds the term
  (``LIKE '%term%'``, ``ORDER BY id DESC LIMIT 50``).

    BARE_DATABASE_URL=sqlite:////tmp/x.sqlite3 BARE_TOKEN=t gunicorn -w 2 bench.bare_keyset_app:app
"""
import os
import sqlite3
from datetime import datetime, timezone

from flask import Flask, abort, jsonify, render_template_string, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Boolean, DateTime, bindparam, event, text
from sqlalchemy.engine import Engine

TOKEN = os.environ.get("BARE_TOKEN", "bare-token")
ORG = 1
OPEN = bindparam("open", True, type_=Boolean)
PAGE = text(
    "SELECT id, number, title, severity, state, queue_due_at, version, assignee_id FROM incident "
    "WHERE org_id = :org AND is_open = :open AND (queue_due_at, severity, id) > (:due, :sev, :id) "
    "ORDER BY queue_due_at, severity, id LIMIT 50"
).bindparams(OPEN, bindparam("due", type_=DateTime))
INCIDENT = text(
    "SELECT id, number, title, description, severity, state, kind, occurred_at, aware_at, jurisdictions, "
    "harm_types, personal_data, assignee_id, queue_due_at, created_at, version FROM incident "
    "WHERE id = :id AND org_id = :org")
DEADLINES = text("SELECT rule, kind, due_at, source, period, met_at FROM deadline "
                 "WHERE incident_id = :id AND org_id = :org ORDER BY due_at")
OPEN_BY_SEVERITY = text("SELECT severity, count(*) AS n FROM incident WHERE org_id = :org AND is_open = :open "
                        "GROUP BY severity ORDER BY severity").bindparams(OPEN)
OPEN_BY_STATE = text("SELECT state, count(*) AS n FROM incident WHERE org_id = :org AND is_open = :open "
                     "GROUP BY state ORDER BY state").bindparams(OPEN)
OVERDUE = text("SELECT count(*) FROM deadline WHERE org_id = :org AND met_at IS NULL AND due_at < :now").bindparams(
    bindparam("now", type_=DateTime))
SEARCH = text("SELECT id, number, title, severity, state, created_at FROM incident WHERE org_id = :org "
              "AND (title LIKE :pattern OR description LIKE :pattern) ORDER BY id DESC LIMIT 50")
EPOCH = datetime(1970, 1, 1)

ROWS = """<!doctype html><html><head><meta charset="utf-8"><title>{{ title }}</title></head><body><table>
<tr><th>Ref.</th><th>Title</th><th>Severity</th><th>State</th><th>Assignee</th><th>Due</th></tr>
{% for r in rows %}<tr><td><a href="/incidents/{{ r.id }}">AI-{{ '%04d' % r.number }}</a></td><td>{{ r.title }}</td>
<td>{{ r.severity }}</td><td>{{ r.state }}</td><td>{{ r.assignee_id or '' }}</td>
<td><time datetime="{{ r.queue_due_at }}">{{ r.queue_due_at }}</time></td></tr>{% endfor %}
</table><a href="?after={{ rows[-1].id if rows else '' }}">next</a></body></html>"""
ONE = """<!doctype html><html><head><meta charset="utf-8"><title>AI-{{ '%04d' % i.number }}</title></head><body>
<h1>AI-{{ '%04d' % i.number }} {{ i.title }}</h1><p>{{ i.description }}</p>
<dl><dt>Severity</dt><dd>{{ i.severity }}</dd><dt>State</dt><dd>{{ i.state }}</dd>
<dt>Occurred</dt><dd>{{ i.occurred_at }}</dd><dt>Aware</dt><dd>{{ i.aware_at }}</dd></dl>
<table><tr><th>Rule</th><th>Kind</th><th>Due</th><th>Met</th></tr>
{% for d in deadlines %}<tr><td>{{ d.rule }}</td><td>{{ d.kind }}</td><td>{{ d.due_at }}</td>
<td>{{ d.met_at or '' }}</td></tr>{% endfor %}</table></body></html>"""
DASH = """<!doctype html><html><head><meta charset="utf-8"><title>Dashboard</title></head><body>
<p>Overdue: {{ overdue }}</p><table>
{% for s in open %}<tr><td>{{ s.severity }}</td><td>{{ s.n }}</td></tr>{% endfor %}</table><table>
{% for s in by_state %}<tr><td>{{ s.state }}</td><td>{{ s.n }}</td></tr>{% endfor %}</table></body></html>"""

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("BARE_DATABASE_URL", "sqlite:////tmp/bench-queue.sqlite3")
db = SQLAlchemy(app)


@event.listens_for(Engine, "connect")
def _pragmas(dbapi_connection, _record):
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return  # PostgreSQL: nothing to set
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _check():
    if request.headers.get("Authorization") != f"Bearer {TOKEN}":
        abort(401)


def _rows():
    _check()
    return db.session.execute(PAGE, {"org": ORG, "due": EPOCH, "sev": "", "id": 0}).mappings().all()


@app.get("/queue.json")
def queue_json():
    """One keyset page of 50 rows as JSON."""
    return jsonify(items=[dict(r) for r in _rows()])


@app.get("/queue.html")
def queue_html():
    """One keyset page of 50 rows as an HTML table."""
    return render_template_string(ROWS, rows=_rows(), title="Queue")


def _incident(incident_id):
    _check()
    row = db.session.execute(INCIDENT, {"id": incident_id, "org": ORG}).mappings().first()
    if row is None:
        abort(404)
    return row, db.session.execute(DEADLINES, {"id": incident_id, "org": ORG}).mappings().all()


@app.get("/incidents/<int:incident_id>.json")
def incident_json(incident_id):
    """One incident and its deadlines as JSON."""
    row, deadlines = _incident(incident_id)
    return jsonify({**dict(row), "deadlines": [dict(d) for d in deadlines]})


@app.get("/incidents/<int:incident_id>.html")
def incident_html(incident_id):
    """One incident and its deadlines as a page."""
    row, deadlines = _incident(incident_id)
    return render_template_string(ONE, i=row, deadlines=deadlines)


def _dashboard():
    _check()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return {
        "open": [dict(r) for r in db.session.execute(OPEN_BY_SEVERITY, {"org": ORG}).mappings()],
        "by_state": [dict(r) for r in db.session.execute(OPEN_BY_STATE, {"org": ORG}).mappings()],
        "overdue": db.session.execute(OVERDUE, {"org": ORG, "now": now}).scalar_one(),
    }


@app.get("/dashboard.json")
def dashboard_json():
    """Three counts as JSON."""
    return jsonify(_dashboard())


@app.get("/dashboard.html")
def dashboard_html():
    """Three counts as a page."""
    return render_template_string(DASH, **_dashboard())


def _search():
    _check()
    term = request.args.get("q", "")
    return db.session.execute(SEARCH, {"org": ORG, "pattern": f"%{term}%"}).mappings().all()


@app.get("/search.json")
def search_json():
    """The newest 50 incidents whose title or description holds ``q``, as JSON."""
    return jsonify(items=[dict(r) for r in _search()])


@app.get("/search.html")
def search_html():
    """The same as a table."""
    return render_template_string(ROWS, rows=_search(), title="Search")
