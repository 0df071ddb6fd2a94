"""The baseline for ``bench.queue``: a bare Flask + Flask-SQLAlchemy keyset page of 50 rows.

Reads the same ``incident`` table as our app (the benchmark points both at one SQLite file):
one SELECT of the open incidents of organisation 1 ordered by (queue_due_at, severity, id),
50 rows, answered as JSON (``/queue.json``) or as a small Jinja table (``/queue.html``),
after checking a bearer token. No tenancy, roles, counts, filters, sessions or i18n.

    BARE_DATABASE_URL=sqlite:////tmp/x.sqlite3 BARE_TOKEN=t gunicorn -w 2 bench.bare_keyset_app:app
"""
import os

from flask import Flask, abort, jsonify, render_template_string, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

TOKEN = os.environ.get("BARE_TOKEN", "bare-token")
PAGE = text(
    "SELECT id, number, title, severity, state, queue_due_at, version, assignee_id FROM incident "
    "WHERE org_id = 1 AND is_open = 1 AND (queue_due_at, severity, id) > (:due, :sev, :id) "
    "ORDER BY queue_due_at, severity, id LIMIT 50"
)
HTML = """<!doctype html><html><head><meta charset="utf-8"><title>Queue</title></head><body><table>
<tr><th>Ref.</th><th>Title</th><th>Severity</th><th>State</th><th>Assignee</th><th>Due</th></tr>
{% for r in rows %}<tr><td><a href="/incidents/{{ r.id }}">AI-{{ '%04d' % r.number }}</a></td><td>{{ r.title }}</td>
<td>{{ r.severity }}</td><td>{{ r.state }}</td><td>{{ r.assignee_id or '' }}</td>
<td><time datetime="{{ r.queue_due_at }}">{{ r.queue_due_at }}</time></td></tr>{% endfor %}
</table><a href="?after={{ rows[-1].id if rows else '' }}">next</a></body></html>"""

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("BARE_DATABASE_URL", "sqlite:////tmp/bench-queue.sqlite3")
db = SQLAlchemy(app)


@event.listens_for(Engine, "connect")
def _pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _rows():
    if request.headers.get("Authorization") != f"Bearer {TOKEN}":
        abort(401)
    return db.session.execute(PAGE, {"due": "", "sev": "", "id": 0}).mappings().all()


@app.get("/queue.json")
def queue_json():
    """One keyset page of 50 rows as JSON."""
    return jsonify(items=[dict(r) for r in _rows()])


@app.get("/queue.html")
def queue_html():
    """One keyset page of 50 rows as an HTML table."""
    return render_template_string(HTML, rows=_rows())
