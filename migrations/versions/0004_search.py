"""full-text search: FTS5 trigram table and triggers (SQLite), pg_trgm GIN indexes (PostgreSQL)

Neither kind of object is described by the models: ``migrations/env.py`` leaves them out of
autogenerate's comparison (``app.search.schema.include_object``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 23:00:00

"""
from alembic import op

from app.search.schema import PG_INDEXES, SQLITE_TRIGGERS

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE incident_search USING fts5("
            "org_id UNINDEXED, incident_id UNINDEXED, title, description, comments, "
            "tokenize='trigram')"
        )
        op.execute(
            "INSERT INTO incident_search (rowid, org_id, incident_id, title, description, comments) "
            "SELECT i.id, i.org_id, i.id, i.title, i.description, "
            "coalesce((SELECT group_concat(e.comment, char(10)) FROM timeline_event e "
            "WHERE e.incident_id = i.id AND e.comment <> ''), '') FROM incident i"
        )
        for _name, sql in SQLITE_TRIGGERS:
            op.execute(sql)
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, table, column in PG_INDEXES:
            op.create_index(name, table, [column], postgresql_using="gin",
                            postgresql_ops={column: "gin_trgm_ops"})


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for name, _sql in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS incident_search")
    else:
        for name, table, _column in PG_INDEXES:
            op.drop_index(name, table_name=table)
        op.execute("DROP EXTENSION IF EXISTS pg_trgm")
