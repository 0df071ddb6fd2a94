"""The search objects migration 0004 creates and the models do not describe, and the
autogenerate filter that leaves them out of the comparison of models and database.

SQLite: the FTS5 table ``incident_search`` (plus FTS5's shadow tables ``incident_search_*``)
and the triggers that keep it in sync. PostgreSQL: the pg_trgm GIN indexes.
"""
FTS_TABLE = "incident_search"

# (name, table, column): one trigram GIN index per searched column.
PG_INDEXES = (
    ("ix_incident_title_trgm", "incident", "title"),
    ("ix_incident_description_trgm", "incident", "description"),
    ("ix_timeline_event_comment_trgm", "timeline_event", "comment"),
)

_RECOMPUTE_COMMENTS = (
    "UPDATE incident_search SET comments = coalesce((SELECT group_concat(e.comment, char(10)) "
    "FROM timeline_event e WHERE e.incident_id = {ref}.incident_id AND e.comment <> ''), '') "
    "WHERE rowid = {ref}.incident_id;"
)

# (name, CREATE TRIGGER): one row per incident, rowid = incident.id.
SQLITE_TRIGGERS = (
    ("incident_search_ai", """
CREATE TRIGGER incident_search_ai AFTER INSERT ON incident BEGIN
  INSERT INTO incident_search (rowid, org_id, incident_id, title, description, comments)
  VALUES (new.id, new.org_id, new.id, new.title, new.description, '');
END"""),
    ("incident_search_au", """
CREATE TRIGGER incident_search_au AFTER UPDATE OF title, description ON incident BEGIN
  UPDATE incident_search SET title = new.title, description = new.description WHERE rowid = new.id;
END"""),
    ("incident_search_ad", """
CREATE TRIGGER incident_search_ad AFTER DELETE ON incident BEGIN
  DELETE FROM incident_search WHERE rowid = old.id;
END"""),
    # A new comment is appended (cheap); an edited or deleted one rebuilds the incident's list.
    ("timeline_search_ai", """
CREATE TRIGGER timeline_search_ai AFTER INSERT ON timeline_event
WHEN coalesce(new.comment, '') <> '' BEGIN
  UPDATE incident_search SET comments = CASE WHEN comments = '' THEN new.comment
    ELSE comments || char(10) || new.comment END WHERE rowid = new.incident_id;
END"""),
    ("timeline_search_au", """
CREATE TRIGGER timeline_search_au AFTER UPDATE OF comment, incident_id ON timeline_event BEGIN
  """ + _RECOMPUTE_COMMENTS.format(ref="old") + """
  """ + _RECOMPUTE_COMMENTS.format(ref="new") + """
END"""),
    ("timeline_search_ad", """
CREATE TRIGGER timeline_search_ad AFTER DELETE ON timeline_event
WHEN coalesce(old.comment, '') <> '' BEGIN
  """ + _RECOMPUTE_COMMENTS.format(ref="old") + """
END"""),
)

_PG_INDEX_NAMES = frozenset(name for name, _table, _column in PG_INDEXES)


def include_object(obj, name, type_, reflected, compare_to):
    """Alembic's ``include_object`` hook: skip the search objects the models do not describe."""
    if type_ == "table" and reflected and compare_to is None and (
            name == FTS_TABLE or (name or "").startswith(FTS_TABLE + "_")):
        return False
    if type_ == "index" and name in _PG_INDEX_NAMES:
        return False
    return True


def is_search_table(name):
    """True for the FTS5 table and its shadow tables (they are not model tables)."""
    return name == FTS_TABLE or name.startswith(FTS_TABLE + "_")
