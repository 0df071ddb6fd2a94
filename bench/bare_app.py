"""The baseline for ``bench.filing``: a bare Flask + Flask-SQLAlchemy insert endpoint.

One ``POST /incidents`` that checks a bearer token, parses the JSON body, inserts a row
with columns like our incident's and answers 201 with JSON. SQLite in WAL mode with the
same pragmas as ``app/db.py``. Nothing else: no validation, tenancy, timeline or tags.

    BARE_DATABASE_URL=sqlite:////tmp/bare.sqlite3 python -m bench.bare_app init
    BARE_DATABASE_URL=... gunicorn -w 2 bench.bare_app:app
"""
import os
import sqlite3
import sys
from datetime import datetime, timezone

from flask import Flask, abort, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, event
from sqlalchemy.engine import Engine

TOKEN = os.environ.get("BARE_TOKEN", "bare-token")

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("BARE_DATABASE_URL", "sqlite:////tmp/bench-bare.sqlite3")
db = SQLAlchemy(app)


@event.listens_for(Engine, "connect")
def _pragmas(dbapi_connection, _record):
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return  # PostgreSQL: nothing to set
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Incident(db.Model):
    """An incident row with columns like the product's."""

    id = db.Column(db.Integer, primary_key=True)
    org_id = db.Column(db.Integer, nullable=False, index=True)
    title = db.Column(db.String(200), nullable=False)
    description = db.Column(db.Text, nullable=False)
    severity = db.Column(db.String(8), nullable=False)
    occurred_at = db.Column(db.DateTime, nullable=False)
    aware_at = db.Column(db.DateTime, nullable=False)
    jurisdictions = db.Column(JSON, nullable=False)
    harm_types = db.Column(JSON, nullable=False)
    personal_data = db.Column(db.Boolean, nullable=False, default=False)
    state = db.Column(db.String(64), nullable=False, default="reported")
    created_at = db.Column(db.DateTime, nullable=False)


@app.post("/incidents")
def file_incident():
    """Insert one row from the JSON body; 201 with its id."""
    if request.headers.get("Authorization") != f"Bearer {TOKEN}":
        abort(401)
    data = request.get_json()
    row = Incident(
        org_id=1,
        title=data["title"],
        description=data["description"],
        severity=data["severity"],
        occurred_at=datetime.fromisoformat(data["occurred_at"]),
        aware_at=datetime.fromisoformat(data["aware_at"]),
        jurisdictions=data.get("jurisdictions", []),
        harm_types=data.get("harm_types", []),
        personal_data=bool(data.get("personal_data")),
        created_at=datetime.now(timezone.utc),
    )
    db.session.add(row)
    db.session.commit()
    return jsonify(id=row.id, state=row.state), 201


if __name__ == "__main__" and sys.argv[1:] == ["init"]:
    with app.app_context():
        db.create_all()
