"""Concurrent writers: SQLite runs in WAL mode with a busy timeout and write transactions
take the lock up front (BEGIN IMMEDIATE), so concurrent filings queue instead of failing
with "database is locked". The filing test runs on PostgreSQL too (the number sequence
must stay gap-free and unique under concurrency there as well)."""
import os
import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.incidents import service as incidents
from app.incidents.models import Incident
from app.tenancy import scoped


def is_postgres():
    """True when the suite runs against PostgreSQL (tests/conftest.py sets TEST_DATABASE_URL)."""
    return os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


THREADS = 8
PER_THREAD = 10


@pytest.mark.skipif(is_postgres(), reason="SQLite pragmas")
def test_sqlite_connections_use_wal_and_a_busy_timeout(app):
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"), "the suite uses a file"
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar().lower() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


@pytest.mark.skipif(is_postgres(), reason="SQLite locking")
def test_write_transactions_begin_immediate(app, factory):
    """transaction() takes the write lock at BEGIN (IMMEDIATE), before its first write."""
    from app.db import transaction

    org = factory.org()
    with app.app_context(), scoped(org.id):
        with transaction():
            # While this transaction holds the write lock, another connection cannot take it
            # (a private connection, so the pool never gets its short timeout back).
            other = sqlite3.connect(db.engine.url.database, timeout=0.05, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()


def test_concurrent_filings_all_succeed(app, factory):
    org = factory.org()
    reporter = factory.user(org, role="reporter")
    now = datetime.now(timezone.utc)
    errors, barrier = [], threading.Barrier(THREADS)

    def file_many(thread_no):
        try:
            with app.app_context(), scoped(org.id):
                barrier.wait(timeout=30)
                for i in range(PER_THREAD):
                    incidents.file_incident(actor=reporter, data={
                        "title": f"並行起票 {thread_no}-{i}",
                        "description": "Concurrent filing from several request threads.",
                        "severity": "sev3",
                        "occurred_at": now - timedelta(hours=2),
                        "aware_at": now - timedelta(hours=1),
                        "jurisdictions": ["JP"],
                    })
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=file_many, args=(n,)) for n in range(THREADS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        with app.app_context():
            db.engine.dispose()  # close the extra pooled connections the threads opened
    assert not any(t.is_alive() for t in threads), "filing threads hung"
    assert errors == [], errors[:3]
    with app.app_context(), scoped(org.id):
        numbers = sorted(db.session.execute(select(Incident.number)).scalars())
    assert numbers == list(range(1, THREADS * PER_THREAD + 1))
