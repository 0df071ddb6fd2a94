"""Full-text search over incidents: title, description and timeline comments, Japanese included.

Japanese has no spaces between words, so both databases index character trigrams and a
query term is found wherever it occurs as a substring, in the middle of a sentence too.

- **SQLite**: the FTS5 virtual table ``incident_search`` (``tokenize='trigram'``), one row per
  incident (``rowid`` = incident id) with ``org_id`` and ``incident_id`` (UNINDEXED), ``title``,
  ``description`` and ``comments`` (the incident's timeline comments, one a line). Migration
  0004 creates it, backfills it and keeps it in sync with triggers on ``incident`` and
  ``timeline_event``, so every service that writes those rows keeps it current.
  A term of 3 characters or more is an FTS5 phrase (``MATCH``, the trigram index); a term of
  1 or 2 characters (漏洩, 履歴, "AI") has no trigram, so it is a ``LIKE`` over the same
  table's columns (a scan of the organisation's rows in the index table).
- **PostgreSQL**: ``pg_trgm`` GIN indexes (``gin_trgm_ops``) on ``incident.title``,
  ``incident.description`` and ``timeline_event.comment``; each term is an ``ILIKE`` those
  indexes answer (3 characters or more; shorter terms are checked on the rows).

A query is split on whitespace; every term must occur in the incident's text (in any of its
fields). Terms are literal text: FTS5 syntax (AND, NEAR(), *, quotes) and LIKE wildcards
(% and _) in them are matched as characters, never interpreted.
"""
from sqlalchemy import Integer, intersect, or_, select, text, union

from app.extensions import db
from app.incidents.models import Incident, TimelineEvent
from app.search.schema import FTS_TABLE

# FTS5's trigram tokenizer matches nothing for a phrase shorter than this.
TRIGRAM = 3
# At most this many terms are used (a pasted paragraph must not become a huge query).
MAX_TERMS = 8


def terms_of(query):
    """The query's terms: whitespace-separated (ASCII and ideographic spaces), unique, in order."""
    if not query:
        return []
    # A NUL character separates terms too (no stored text holds one; FTS5 and PostgreSQL refuse it).
    return list(dict.fromkeys(query.replace("\x00", " ").split()))[:MAX_TERMS]


def fts_phrase(term):
    """``term`` as an FTS5 string: a quoted phrase, with its double quotes doubled."""
    return '"' + term.replace('"', '""') + '"'


def like_pattern(term):
    """``%term%`` with LIKE's wildcards and the escape character escaped (escape ``\\``)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_incident_ids(*, org_id, query):
    """A selectable of the ids of ``org_id``'s incidents whose text holds every term of
    ``query`` (title, description, timeline comments); None when the query has no terms."""
    terms = terms_of(query)
    if not terms:
        return None
    if db.session.get_bind().dialect.name == "sqlite":
        return _sqlite(org_id, terms)
    return _postgresql(org_id, terms)


def _sqlite(org_id, terms):
    """FTS5 MATCH for terms of 3 characters or more, LIKE over the same rows for shorter ones."""
    where, params = ["org_id = :org_id"], {"org_id": org_id}
    long_terms = [t for t in terms if len(t) >= TRIGRAM]
    if long_terms:
        where.append(f"{FTS_TABLE} MATCH :match")
        params["match"] = " AND ".join(fts_phrase(t) for t in long_terms)
    for n, term in enumerate(t for t in terms if len(t) < TRIGRAM):
        name = f"like{n}"
        where.append("(" + " OR ".join(
            f"{column} LIKE :{name} ESCAPE '\\'" for column in ("title", "description", "comments")
        ) + ")")
        params[name] = like_pattern(term)
    # A text() with an explicit org_id bind: the tenancy hook scopes ORM entities only.
    sql = f"SELECT incident_id FROM {FTS_TABLE} WHERE " + " AND ".join(where)
    return text(sql).bindparams(**params).columns(incident_id=Integer)


def _postgresql(org_id, terms):
    """Per term, a UNION of index-answerable ILIKEs (title or description: a BitmapOr of their
    pg_trgm indexes; comments: the timeline's); the terms' sets are intersected."""
    per_term = []
    for term in terms:
        pattern = like_pattern(term)
        in_incident = select(Incident.id).where(
            Incident.org_id == org_id,
            or_(Incident.title.ilike(pattern, escape="\\"), Incident.description.ilike(pattern, escape="\\")),
        )
        in_comments = select(TimelineEvent.incident_id).where(
            TimelineEvent.org_id == org_id, TimelineEvent.comment.ilike(pattern, escape="\\"),
        )
        per_term.append(union(in_incident, in_comments))
    matching = per_term[0] if len(per_term) == 1 else intersect(*per_term)
    # Selected through the mapped class, so the tenancy hook sees (and scopes) an ORM query.
    return select(Incident.id).where(Incident.org_id == org_id, Incident.id.in_(matching))
