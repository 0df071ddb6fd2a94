"""Fast seeding of PostgreSQL with the same data as ``bench.queue.seed`` + ``bench.dashboard.enrich``.

The database must have been built by the CLI first (``bench.queue.setup_database`` with a
PostgreSQL URL: ``flask db upgrade``, organisation, lead, token). Then:

- ``seed(url, size)``: ten responders, ``size`` incidents and their jurisdiction tags from
  ``bench.queue.incident_batches`` (the same rows SQLite gets) with ``COPY`` (psycopg's
  ``cursor.copy()``), the secondary indexes of ``incident`` and ``incident_tag`` (pg_trgm GIN
  indexes included) dropped for the load and rebuilt after it, then ``ANALYZE``;
- ``enrich(url)``: AI systems, harm-type and principle tags, acknowledgement and resolution
  times, a regulatory deadline for JP incidents and a response target per incident, ministry
  requests (``bench.dashboard.enrich``'s data, in PostgreSQL SQL), indexes dropped and rebuilt
  the same way, the daily rollup rebuilt (``rollup.backfill``), ``ANALYZE``.
"""
import time
from datetime import datetime, timezone

from sqlalchemy.engine import make_url

from bench.dashboard import HARMS, PRINCIPLES, SYSTEMS, rebuild_rollup
from bench.queue import LEAD, incident_batches

TABLES = ("incident", "incident_tag", "deadline")


def connect(url):
    """A psycopg connection (UTC session) to a SQLAlchemy ``postgresql+psycopg://`` URL."""
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = psycopg.connect(conninfo, autocommit=True)  # transactions are explicit
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET maintenance_work_mem = '256MB'")
    return conn


def drop_indexes(conn, tables):
    """Drop the secondary indexes (not those behind a constraint) of ``tables``; returns their definitions."""
    rows = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' "
        "AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        (list(tables),)).fetchall()
    for name, _sql in rows:
        conn.execute(f'DROP INDEX "{name}"')
    return rows


def rebuild_indexes(conn, definitions):
    for _name, sql in definitions:
        conn.execute(sql)


def seed(url, size, seed_value=7):
    """``size`` incidents (and responders, tags) by COPY; returns seconds."""
    started = time.perf_counter()
    conn = connect(url)
    with conn.transaction():
        org_id, lead_id, password_hash = conn.execute(
            "SELECT org_id, id, password_hash FROM user_account WHERE email = %s", (LEAD,)).fetchone()
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO user_account (org_id, email, name, password_hash, role, active, created_at) "
                "VALUES (%s, %s, %s, %s, 'responder', true, %s)",
                [(org_id, f"responder{n}@bench.example.jp", f"対応者 {n}", password_hash, now) for n in range(10)])
        responders = [r[0] for r in conn.execute("SELECT id FROM user_account WHERE role = 'responder'")]
        workers = responders + [lead_id]
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = 'incident' ORDER BY ordinal_position")]
        indexes = drop_indexes(conn, ("incident", "incident_tag"))
        with conn.cursor() as cur:
            with cur.copy(f"COPY incident ({', '.join(columns)}) FROM STDIN") as copy:
                tags = []
                for rows, batch_tags in incident_batches(columns, size, org_id, lead_id, workers, now, seed_value):
                    for row in rows:
                        copy.write_row(row)
                    tags += batch_tags
            with cur.copy("COPY incident_tag (org_id, incident_id, facet, value) FROM STDIN") as copy:
                for org, incident_id, value in tags:
                    copy.write_row((org, incident_id, "jurisdiction", value))
        conn.execute("SELECT setval(pg_get_serial_sequence('incident', 'id'), %s)", (size,))
        conn.execute("UPDATE organisation SET incident_seq = %s WHERE id = %s", (size, org_id))
        rebuild_indexes(conn, indexes)
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


def enrich(url):
    """Systems, tags, response times, deadlines, ministry requests and the rollup; returns (seconds, counts)."""
    started = time.perf_counter()
    conn = connect(url)
    with conn.transaction():
        org_id, lead_id = conn.execute("SELECT org_id, id FROM user_account WHERE email = %s", (LEAD,)).fetchone()
        now = datetime.now(timezone.utc)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ai_system (org_id, name, purpose, actor_role, developer, model_name, model_version, "
                "training_sources, deployment_context, risk_level, eu_high_risk, status, created_at, updated_at) "
                "VALUES (%s, %s, '', %s, '', '', '', '', '', 'limited', false, 'in_use', %s, %s)",
                [(org_id, name, role, now, now) for name, role in SYSTEMS])
        system_ids = [r[0] for r in conn.execute("SELECT id FROM ai_system WHERE org_id = %s ORDER BY id", (org_id,))]
        cases = " ".join(f"WHEN {i} THEN {sid}" for i, sid in enumerate(system_ids))
        indexes = drop_indexes(conn, TABLES)
        # An UPDATE of every row writes a new version of each: rewrite the table in one pass instead.
        conn.execute(f"""
            UPDATE incident SET
              ai_system_id = CASE id % 9 {cases} ELSE NULL END,
              acknowledged_at = CASE WHEN NOT is_open OR id % 2 = 0
                                THEN created_at + (id % 47 + 1) * interval '1 hour' ELSE NULL END,
              resolved_at = CASE WHEN NOT is_open THEN created_at + (id % 239 + 1) * interval '1 hour' ELSE NULL END
        """)
        for facet, values in (("harm_type", HARMS), ("principle", PRINCIPLES)):
            value = "CASE id % 5 " + " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values)) + " END"
            conn.execute(f"INSERT INTO incident_tag (org_id, incident_id, facet, value) "
                         f"SELECT org_id, id, '{facet}', {value} FROM incident WHERE id % 3 <> 0")
        conn.execute("""
            INSERT INTO deadline (org_id, incident_id, rule, kind, due_at, source, period, met_at, met_by)
            SELECT i.org_id, i.id, 'appi-preliminary', 'regulatory',
                   CASE WHEN i.is_open AND i.queue_due_at < '9999-01-01' THEN i.queue_due_at
                        ELSE i.aware_at + interval '3 days' END,
                   'APPI Art. 26', '3 days (Asia/Tokyo)',
                   CASE WHEN NOT i.is_open THEN i.created_at + interval '1 day' ELSE NULL END,
                   CASE WHEN NOT i.is_open THEN 'file_ppc_preliminary_report' ELSE NULL END
            FROM incident i JOIN incident_tag t
              ON t.incident_id = i.id AND t.facet = 'jurisdiction' AND t.value = 'JP'
        """)
        conn.execute("""
            INSERT INTO deadline (org_id, incident_id, rule, kind, due_at, source, period, met_at, met_by)
            SELECT org_id, id, 'state:reported', 'state_target', created_at + interval '1 day',
                   'workflow jp-ai-incident v1: reported', '24h',
                   CASE WHEN NOT is_open THEN created_at + (id % 3) * interval '18 hours' ELSE NULL END,
                   CASE WHEN NOT is_open THEN 'start_triage' ELSE NULL END
            FROM incident
        """)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ministry_request (org_id, ministry, kind, reference, received_at, requested_actions, "
                "due_at, status, created_by_id, created_at, updated_at) "
                "VALUES (%s, 'meti', 'request', %s, %s, '', NULL, %s, %s, %s, %s)",
                [(org_id, f"METI-{n}", now, "open" if n % 4 == 0 else "closed", lead_id, now, now)
                 for n in range(40)])
        rebuild_indexes(conn, indexes)
    conn.execute("VACUUM ANALYZE")
    rebuild_rollup(url)
    conn.execute("VACUUM ANALYZE")
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("incident", "incident_tag", "deadline", "dashboard_daily")}
    conn.close()
    return time.perf_counter() - started, counts
