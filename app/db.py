"""Database helpers: UTC datetimes, the write transaction, SQLite tuning.

Every write goes through :func:`transaction`. On SQLite it opens the transaction
with ``BEGIN IMMEDIATE`` so a writer takes the write lock up front and waits
(busy timeout) instead of failing with "database is locked" when it upgrades a
read snapshot. On PostgreSQL it is an ordinary transaction.
"""
from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

from app.extensions import db


# The largest row id (ids are 32-bit INTEGER columns on PostgreSQL): an id above it names no row.
ID_MAX = 2**31 - 1
# The largest value of a BIGINT column (ledger sequence numbers).
BIGINT_MAX = 2**63 - 1


def utcnow():
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A datetime stored as UTC and always returned timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record):
    """WAL, a busy timeout and foreign keys for every SQLite connection."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own handling is off).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    """BEGIN IMMEDIATE for write transactions on SQLite, plain BEGIN otherwise."""
    if conn.dialect.name != "sqlite":
        return
    if conn.get_execution_options().get("write"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def within(owner, transaction):
    """True when ``owner`` (a session transaction) is ``transaction`` or nested inside it:
    work held on a session for after the commit is dropped with the savepoint it was made in."""
    while owner is not None:
        if owner is transaction:
            return True
        owner = owner.parent
    return False


@contextmanager
def transaction():
    """One unit of work: take the write lock (SQLite), commit on success, roll back on error."""
    session = db.session()  # the request-scoped Session itself
    if session.in_transaction():
        # End the read snapshot opened by earlier reads in this request; nothing is pending.
        session.commit()
    session.connection(execution_options={"write": True})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
