"""Dashboard scaling: GET /api/v1/metrics and GET /dashboard at several sizes, in one run.

    python -m bench.dashboard [--sizes 10000,1000000] [--duration 10] [--connections 8] [--warmup 2]

For each size: a fresh SQLite file (WAL) built as an operator would (bench.queue.setup_database:
``flask db upgrade``, org, lead, token; plus an executive), seeded FAST with bench.queue.seed
(incidents spread over three years, 3 % open, jurisdiction tags), then enriched in bulk SQL:
eight AI systems of the three actor roles, harm-type and principle tags, acknowledgement and
resolution times, one regulatory deadline for JP incidents and one response target (state_target)
per incident (met for closed incidents, a mix of on time and late), and open ministry requests;
then the daily rollups are rebuilt from the incidents (``rollup.backfill``, as the migration does).

Our app (``gunicorn -w 2 wsgi:app``) serves the file and wrk drives, for each size:

- ``GET /api/v1/metrics`` (the lead's bearer token; default period, the last 90 days),
- ``GET /dashboard`` (HTML, the executive's session cookie),

twice: with the per-process figures cache off (``DASHBOARD_METRICS_TTL_SECONDS=0``: every request
runs every aggregate) and on (the default 10 s). Prints req/s, p50 and p99, and the latency ratio
of the largest size to the smallest (target <= 2). Needs wrk. Results also go to
``bench/results/dashboard-*.json``.
"""
import argparse
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.filing import Gunicorn, latency_scaling, run, save_results
from bench.queue import LUA, PASSWORD, measure, seed, setup_database

TARGET_SCALING = 2.0
EXECUTIVE = "executive@bench.example.jp"
SYSTEMS = [("チャットボット", "provider"), ("与信スコアリング", "developer"), ("採用AI", "business_user"),
           ("需要予測", "business_user"), ("画像診断支援", "developer"), ("翻訳エンジン", "provider"),
           ("不正検知", "developer"), ("コールセンター要約", "business_user")]
HARMS = ("privacy", "economic", "discrimination", "reputational", "misinformation")
PRINCIPLES = ("privacy", "fairness", "safety", "transparency", "accountability")
# SQLAlchemy's text form of a UTC datetime on SQLite: 'YYYY-MM-DD HH:MM:SS.ffffff'.
TS = "strftime('%Y-%m-%d %H:%M:%f', {}) || '000'"


def enrich(db_path):
    """Add systems, tags, response times, deadlines and ministry requests in bulk SQL; returns seconds."""
    started = time.perf_counter()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-400000")
    org_id, lead_id = conn.execute("SELECT org_id, id FROM user_account WHERE email = ?",
                                   ("lead@bench.example.jp",)).fetchone()
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO ai_system (org_id, name, purpose, actor_role, developer, model_name, model_version, "
        "training_sources, deployment_context, risk_level, eu_high_risk, status, created_at, updated_at) "
        "VALUES (?, ?, '', ?, '', '', '', '', '', 'limited', 0, 'in_use', ?, ?)",
        [(org_id, name, role, stamp, stamp) for name, role in SYSTEMS])
    system_ids = [r[0] for r in conn.execute("SELECT id FROM ai_system WHERE org_id = ? ORDER BY id", (org_id,))]
    cases = " ".join(f"WHEN {i} THEN {sid}" for i, sid in enumerate(system_ids))
    # Indexes on incident and deadline are dropped for the bulk updates and rebuilt after them.
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                           "AND tbl_name IN ('incident', 'incident_tag', 'deadline')").fetchall()
    for name, _sql in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    ack = TS.format("julianday(created_at) + (id % 47 + 1) / 24.0")
    res = TS.format("julianday(created_at) + (id % 239 + 1) / 24.0")
    conn.execute(f"""
        UPDATE incident SET
          ai_system_id = CASE id % 9 {cases} ELSE NULL END,
          acknowledged_at = CASE WHEN is_open = 0 OR id % 2 = 0 THEN {ack} ELSE NULL END,
          resolved_at = CASE WHEN is_open = 0 THEN {res} ELSE NULL END
    """)
    for facet, values in (("harm_type", HARMS), ("principle", PRINCIPLES)):
        value = "CASE id % 5 " + " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values)) + " END"
        conn.execute(f"INSERT INTO incident_tag (org_id, incident_id, facet, value) "
                     f"SELECT org_id, id, '{facet}', {value} FROM incident WHERE id % 3 <> 0")
    # A regulatory deadline for JP incidents: met when closed; open ones due around queue_due_at.
    due_reg = TS.format("julianday(aware_at) + 3")
    conn.execute(f"""
        INSERT INTO deadline (org_id, incident_id, rule, kind, due_at, source, period, met_at, met_by)
        SELECT i.org_id, i.id, 'appi-preliminary', 'regulatory',
               CASE WHEN i.is_open = 1 AND i.queue_due_at < '9999' THEN i.queue_due_at ELSE {due_reg} END,
               'APPI Art. 26', '3 days (Asia/Tokyo)',
               CASE WHEN i.is_open = 0 THEN {TS.format("julianday(i.created_at) + 1")} ELSE NULL END,
               CASE WHEN i.is_open = 0 THEN 'file_ppc_preliminary_report' ELSE NULL END
        FROM incident i JOIN incident_tag t ON t.incident_id = i.id AND t.facet = 'jurisdiction' AND t.value = 'JP'
    """.replace("julianday(aware_at)", "julianday(i.aware_at)"))
    # A response target per incident: 1 day; closed ones met (two in three on time), open ones unmet.
    conn.execute(f"""
        INSERT INTO deadline (org_id, incident_id, rule, kind, due_at, source, period, met_at, met_by)
        SELECT org_id, id, 'state:reported', 'state_target', {TS.format("julianday(created_at) + 1")},
               'workflow jp-ai-incident v1: reported', '24h',
               CASE WHEN is_open = 0 THEN {TS.format("julianday(created_at) + (id % 3) * 0.75")} ELSE NULL END,
               CASE WHEN is_open = 0 THEN 'start_triage' ELSE NULL END
        FROM incident
    """)
    conn.executemany(
        "INSERT INTO ministry_request (org_id, ministry, kind, reference, received_at, requested_actions, due_at, "
        "status, created_by_id, created_at, updated_at) VALUES (?, 'meti', 'request', ?, ?, '', NULL, ?, ?, ?, ?)",
        [(org_id, f"METI-{n}", stamp, "open" if n % 4 == 0 else "closed", lead_id, stamp, stamp) for n in range(40)])
    for _name, sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    # The bulk inserts bypassed the rollup hook: rebuild the daily rollups as the migration does.
    rebuild_rollup(f"sqlite:///{db_path}")
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("ANALYZE")
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("incident", "incident_tag", "deadline", "dashboard_daily")}
    conn.close()
    return time.perf_counter() - started, counts


def rebuild_rollup(database_url):
    """``rollup.backfill`` of every organisation on ``database_url`` (after bulk SQL bypassed the hook).

    backfill empties ``dashboard_daily`` and then upserts one row per statement (``rollup.apply``),
    a round trip each: fine in-process on SQLite, about 1.5 ms a row on PostgreSQL (33 s for the
    22k rows of 10k incidents). Here the same deltas are written into the emptied table with one
    multi-row INSERT per batch instead (same rows, same skipping of zero deltas)."""
    from unittest import mock

    from sqlalchemy import create_engine

    from app.dashboard import rollup
    from app.dashboard.models import DailyFigure

    def bulk_apply(connection, deltas):
        rows = [{"org_id": org_id, "day": day, "metric": metric, "key": key, "n": n, "seconds": seconds}
                for (org_id, day, metric, key), (n, seconds) in deltas.items()
                if not (n == 0 and abs(seconds) < 1e-9)]
        for start in range(0, len(rows), 5000):
            connection.execute(DailyFigure.__table__.insert(), rows[start:start + 5000])

    engine = create_engine(database_url)
    try:
        with engine.begin() as connection, mock.patch.object(rollup, "apply", bulk_apply):
            rollup.backfill(connection)
    finally:
        engine.dispose()


def login_cookie(base, email):
    """Post the login form; returns the Cookie header value."""
    import requests

    with requests.Session() as session:
        page = session.get(base + "/login").text
        token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
        resp = session.post(base + "/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                            allow_redirects=False)
        if resp.status_code != 302:
            sys.exit(f"login failed: {resp.status_code}")
        return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def bench_size(tmp, size, script, args):
    """Build, seed and measure one size; returns its figures."""
    env, token, db_path = setup_database(tmp, size)
    run([sys.executable, "-m", "flask", "--app", "wsgi", "user", "create", EXECUTIVE, "--org", "bench",
         "--role", "executive", "--password", PASSWORD], env)
    seconds = seed(db_path, size)
    extra, counts = enrich(db_path)
    print(f"seeded {size:,} incidents in {seconds:.1f} s + {extra:.1f} s ({counts})", flush=True)
    results = {"size": size, "seed_seconds": seconds + extra, "rows": counts}
    for mode, ttl in (("uncached", "0"), ("cached", "10")):
        server = Gunicorn("wsgi:app", dict(env, DASHBOARD_METRICS_TTL_SECONDS=ttl), tmp / f"ours-{size}-{mode}.log",
                          "/healthz", args.workers)
        try:
            cookie = login_cookie(server.base, EXECUTIVE)
            results[f"api_{mode}"] = measure(f"GET /api/v1/metrics ({mode})", server.base + "/api/v1/metrics",
                                             "Authorization", f"Bearer {token}", script, args)
            results[f"html_{mode}"] = measure(f"GET /dashboard ({mode})", server.base + "/dashboard", "Cookie",
                                              cookie, script, args)
        finally:
            server.stop()
    if not args.keep:
        for path in tmp.glob(f"queue-{size}.sqlite3*"):
            path.unlink()
    return results


KEYS = ("api_uncached", "html_uncached", "api_cached", "html_cached")


def report(all_results, args):
    """Print the table and the scaling ratios; returns the summary dict."""
    print()
    print(f"dashboard benchmark: gunicorn -w {args.workers} (sync), SQLite WAL, wrk -t{args.threads} "
          f"-c{args.connections} -d{args.duration}s after {args.warmup}s warm-up, {os.cpu_count()} cores")
    print(f"{'size':>10}  {'endpoint':36}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
    for res in all_results:
        for key in KEYS:
            r = res[key]
            print(f"{res['size']:>10,}  {r['name']:36}{r['rps']:9.1f}{r['p50_ms']:9.2f}{r['p99_ms']:9.2f}"
                  f"{r['non_2xx'] + r['errors']:9d}")
    summary = {}
    if len(all_results) > 1:
        summary.update(latency_scaling(all_results, KEYS, TARGET_SCALING))
    return summary


def main(argv=None):
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000", help="comma-separated incident counts")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and databases")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    script = tmp / "get.lua"
    script.write_text(LUA)
    try:
        all_results = [bench_size(tmp, size, script, args) for size in sizes]
        summary = report(all_results, args)
        save_results("dashboard", {"args": vars(args), "results": all_results, "summary": summary})
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
