"""Queue throughput and scaling: our queue (API and HTML) against a bare keyset page, at several sizes.

    python -m bench.queue [--sizes 10000,1000000] [--duration 10] [--connections 8] [--warmup 2]

For each size: a fresh SQLite file (WAL) is built as an operator would (``flask db upgrade``,
``org create``, ``user create``, ``token create``), then seeded FAST with ``executemany`` of
plain tuples in batches of 10k (incidents with a realistic spread of severity, state, open/closed,
nearest deadline and assignee; jurisdiction tags for a fraction; ten responders). Then our app
(``gunicorn -w 2 wsgi:app``) and the bare app (``gunicorn -w 2 bench.bare_keyset_app:app``, a
Flask + Flask-SQLAlchemy keyset page of 50 rows of the same table) serve the same file, and wrk
drives, one after the other with the same duration and connections:

- ours ``GET /api/v1/queue`` (bearer token; 50 items and the tab counts),
- ours ``GET /queue`` (HTML, a session cookie from posting the login form),
- bare ``GET /queue.json`` and ``GET /queue.html``.

Prints req/s, p50 and p99 per endpoint and size, the ratios ours/bare (target >= 0.7) and
p50 latency at the largest size / the smallest (target <= 1.5). Needs wrk.
Results also go to ``bench/results/queue-*.json``.
"""
import argparse
import json
import os
import random
import re
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.filing import ROOT, Gunicorn, latency_scaling, production_env, run, save_results

TARGET_RATIO = 0.7
TARGET_SCALING = 1.5
BATCH = 10_000
PASSWORD = "bench-password-2026"
LEAD = "lead@bench.example.jp"
OPEN_SHARE = 0.03  # share of incidents still open (most of a big history is closed)
STATES_OPEN = ("reported", "triage", "containment", "investigation", "executive_report", "remediation")
SEVERITIES = ("sev1",) * 3 + ("sev2",) * 12 + ("sev3",) * 35 + ("sev4",) * 50
FAR_FUTURE = "9999-12-31 00:00:00.000000"

LUA = r"""
-- GET with one header from the environment; count statuses per thread.
wrk.method = "GET"
wrk.headers[os.getenv("BENCH_HEADER")] = os.getenv("BENCH_VALUE")
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local agg = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do agg[tostring(code)] = (agg[tostring(code)] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(agg) do table.insert(parts, string.format('"%s": %d', code, n)) end
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "statuses": {%s}, "errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), table.concat(parts, ", "),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def _sqlite_time(dt):
    """The text SQLAlchemy stores for a UTC datetime on SQLite."""
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")


def setup_database(tmp, size, database_url=None, more_users=()):
    """Schema, organisation, lead (and ``more_users``: (email, role) pairs, created alongside) and
    the lead's token through the CLI, on a fresh SQLite file (or on ``database_url``, an empty
    database); returns (env, token, db) where db is the file's path or the URL."""
    import subprocess

    db_path = tmp / f"queue-{size}.sqlite3" if database_url is None else database_url
    env = production_env(tmp, database_url or f"sqlite:///{db_path}")
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    run(flask + ["db", "upgrade"], env)
    run(flask + ["org", "create", "bench", "--name", "Bench 株式会社"], env)
    others = [subprocess.Popen(flask + ["user", "create", email, "--org", "bench", "--role", role,
                                        "--password", PASSWORD], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
              for email, role in more_users]
    run(flask + ["user", "create", LEAD, "--org", "bench", "--role", "lead", "--password", PASSWORD], env)
    token = run(flask + ["token", "create", LEAD], env).strip().splitlines()[-1]
    for proc in others:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            sys.exit(f"failed: {' '.join(proc.args)}\n{out}")
    return env, token, db_path


FIXED = {
    "description": "ベンチマーク用のインシデント。The support chatbot answered with another customer's order details.",
    "kind": "incident", "ai_system_id": None, "harm_types": '["privacy"]', "harmed_parties": "[]",
    "harmed_count": None, "sector": None, "principles": "[]", "personal_data": 1, "deaths": 0,
    "critical_infrastructure": 0, "widespread_infringement": 0, "serious_incident": 0,
    "wrongful_purpose": 0, "confidential": 0, "workflow": "jp-ai-incident",
    "workflow_version": 1, "version": 1, "acknowledged_at": None,
}
VARYING = ("id", "number", "title", "severity", "occurred_at", "aware_at", "jurisdictions", "assignee_id",
           "state", "state_entered_at", "is_open", "queue_due_at", "created_at", "updated_at", "resolved_at")
# Every title holds one of SEARCH_KEYS case numbers (案件000 .. 案件996): a search for one finds ~0.1 %.
SEARCH_KEYS = 997
SEARCH_TERM = "案件042"


def incident_batches(columns, size, org_id, lead_id, workers, now, seed_value=7, batch=BATCH):
    """The seed's incidents as rows of ``columns`` (text timestamps, 0/1 booleans, JSON as text: both
    SQLite and PostgreSQL's COPY take them), with their jurisdiction tags (org_id, incident_id, value),
    by batches; yields (rows, tags)."""
    rnd = random.Random(seed_value)
    fixed = dict(FIXED, org_id=org_id, reporter_id=lead_id)
    unknown = [c for c in columns if c not in fixed and c not in VARYING]
    if unknown:
        sys.exit(f"the bench does not know how to seed incident columns: {unknown}")
    open_every = round(1 / OPEN_SHARE)
    span = 3 * 365 * 24 * 3600
    template = [fixed.get(c) for c in columns]
    at = {c: i for i, c in enumerate(columns)}
    i_id, i_num, i_title, i_sev, i_occ, i_aware = (at[c] for c in ("id", "number", "title", "severity",
                                                                    "occurred_at", "aware_at"))
    i_jur, i_asg, i_state, i_entered, i_open = (at[c] for c in ("jurisdictions", "assignee_id", "state",
                                                                 "state_entered_at", "is_open"))
    i_due, i_created, i_updated, i_resolved = (at[c] for c in ("queue_due_at", "created_at", "updated_at",
                                                                "resolved_at"))
    random_, choice = rnd.random, rnd.choice

    def text(dt):
        return dt.isoformat(" ", "seconds") + ".000000"

    for start in range(1, size + 1, batch):
        rows, tags = [], []
        for n in range(start, min(start + batch, size + 1)):
            created = now - timedelta(seconds=span * (size - n) // size + 60)
            row = template[:]
            row[i_id] = row[i_num] = n
            row[i_title] = f"チャットボットが他の顧客の情報を表示した 案件{n % SEARCH_KEYS:03d} #{n}"
            row[i_sev] = choice(SEVERITIES)
            row[i_occ] = row[i_aware] = text(created - timedelta(hours=2))
            row[i_created] = row[i_updated] = row[i_entered] = text(created)
            if n % open_every == 0 or n > size - 50:  # the newest are open too
                row[i_open] = 1
                row[i_due] = FAR_FUTURE if random_() < 0.1 else text(
                    now + timedelta(seconds=int(random_() * 33 * 86400) - 3 * 86400))
                row[i_asg] = None if random_() < 0.35 else choice(workers)
                row[i_state] = choice(STATES_OPEN)
            else:
                row[i_open] = 0
                row[i_due] = FAR_FUTURE
                row[i_asg] = choice(workers)
                row[i_state] = "closed"
                row[i_resolved] = row[i_created]
            r = random_()
            if r < 0.5:
                code = "JP" if r < 0.4 else "EU"
                row[i_jur] = f'["{code}"]'
                tags.append((org_id, n, code))
            else:
                row[i_jur] = "[]"
            rows.append(row)
        yield rows, tags


def seed(db_path, size, seed_value=7):
    """Insert ``size`` incidents (and responders, tags) with executemany in batches; returns seconds."""
    started = time.perf_counter()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-200000")
    org_id, lead_id, password_hash = conn.execute(
        "SELECT org_id, id, password_hash FROM user_account WHERE email = ?", (LEAD,)).fetchone()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    stamp = _sqlite_time(now)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO user_account (org_id, email, name, password_hash, role, active, created_at) "
        "VALUES (?, ?, ?, ?, 'responder', 1, ?)",
        [(org_id, f"responder{n}@bench.example.jp", f"対応者 {n}", password_hash, stamp) for n in range(10)])
    responders = [row[0] for row in conn.execute("SELECT id FROM user_account WHERE role = 'responder'")]
    workers = responders + [lead_id]
    columns = [row[1] for row in conn.execute("PRAGMA table_info(incident)")]
    # Secondary indexes are dropped for the load and rebuilt after it (a sorted build is much faster).
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                           "AND tbl_name IN ('incident', 'incident_tag')").fetchall()
    for name, _sql in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    insert = f"INSERT INTO incident ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    tag_insert = "INSERT INTO incident_tag (org_id, incident_id, facet, value) VALUES (?, ?, 'jurisdiction', ?)"
    for rows, tags in incident_batches(columns, size, org_id, lead_id, workers, now, seed_value):
        conn.executemany(insert, rows)
        conn.executemany(tag_insert, tags)
    conn.execute("UPDATE organisation SET incident_seq = ? WHERE id = ?", (size, org_id))
    for _name, sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


def login_cookie(base):
    """Post the login form as the lead; returns the Cookie header value."""
    import requests

    with requests.Session() as session:
        page = session.get(base + "/login").text
        token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
        resp = session.post(base + "/login", data={"email": LEAD, "password": PASSWORD, "csrf_token": token},
                            allow_redirects=False)
        if resp.status_code != 302:
            sys.exit(f"login failed: {resp.status_code}")
        return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def wrk(url, header, value, script, args, duration):
    """Drive ``url`` with wrk; returns the BENCH_JSON summary."""
    import subprocess

    env = dict(os.environ, BENCH_HEADER=header, BENCH_VALUE=value)
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}s", "--timeout", "30s",
           "-s", str(script), url]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 120)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    sys.exit(f"wrk gave no summary:\n{out.stdout}\n{out.stderr}")


def measure(name, url, header, value, script, args):
    """Warm up, then measure one endpoint."""
    if args.warmup:
        wrk(url, header, value, script, args, args.warmup)
    main = wrk(url, header, value, script, args, args.duration)
    ok = sum(n for code, n in main["statuses"].items() if code.startswith("2"))
    return {
        "name": name, "rps": main["requests"] / (main["duration_us"] / 1e6), "requests": main["requests"],
        "ok": ok, "non_2xx": main["requests"] - ok, "errors": main["errors"],
        "p50_ms": main["p50_us"] / 1000, "p99_ms": main["p99_us"] / 1000,
    }


def bench_size(tmp, size, script, args):
    """Build, seed and measure one size; returns its figures."""
    env, token, db_path = setup_database(tmp, size)
    seconds = seed(db_path, size)
    print(f"seeded {size:,} incidents in {seconds:.1f} s", flush=True)
    results = {"size": size, "seed_seconds": seconds}
    server = Gunicorn("wsgi:app", env, tmp / f"ours-{size}.log", "/healthz", args.workers)
    try:
        cookie = login_cookie(server.base)
        results["api"] = measure("ours GET /api/v1/queue", server.base + "/api/v1/queue?limit=50",
                                 "Authorization", f"Bearer {token}", script, args)
        results["html"] = measure("ours GET /queue", server.base + "/queue", "Cookie", cookie, script, args)
    finally:
        server.stop()
    bare_token = "bare-" + secrets.token_hex(8)
    bare_env = dict(os.environ, BARE_DATABASE_URL=f"sqlite:///{db_path}", BARE_TOKEN=bare_token)
    server = Gunicorn("bench.bare_keyset_app:app", bare_env, tmp / f"bare-{size}.log", "/queue.json", args.workers)
    try:
        auth = f"Bearer {bare_token}"
        results["bare_json"] = measure("bare GET /queue.json", server.base + "/queue.json", "Authorization", auth,
                                       script, args)
        results["bare_html"] = measure("bare GET /queue.html", server.base + "/queue.html", "Authorization", auth,
                                       script, args)
    finally:
        server.stop()
    if not args.keep:
        for path in tmp.glob(f"queue-{size}.sqlite3*"):
            path.unlink()
    return results


def report(all_results, args):
    """Print the table and the ratios; returns the summary dict."""
    print()
    print(f"queue benchmark: gunicorn -w {args.workers} (sync), SQLite WAL, wrk -t{args.threads} "
          f"-c{args.connections} -d{args.duration}s after {args.warmup}s warm-up, {os.cpu_count()} cores")
    print(f"{'size':>10}  {'endpoint':26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
    summary = {}
    for res in all_results:
        for key in ("api", "html", "bare_json", "bare_html"):
            r = res[key]
            print(f"{res['size']:>10,}  {r['name']:26}{r['rps']:9.1f}{r['p50_ms']:9.2f}{r['p99_ms']:9.2f}"
                  f"{r['non_2xx'] + r['errors']:9d}")
        api_ratio = res["api"]["rps"] / res["bare_json"]["rps"]
        html_ratio = res["html"]["rps"] / res["bare_html"]["rps"]
        summary[res["size"]] = {"api_over_bare_json": api_ratio, "html_over_bare_html": html_ratio}
        print(f"{res['size']:>10,}  ratio ours/bare: API {api_ratio:.2f}, HTML {html_ratio:.2f} "
              f"(target >= {TARGET_RATIO}) -> {'OK' if min(api_ratio, html_ratio) >= TARGET_RATIO else 'BELOW TARGET'}")
    if len(all_results) > 1:
        summary.update(latency_scaling(all_results, ("api", "html", "bare_json", "bare_html"), TARGET_SCALING,
                                       targeted=lambda key: not key.startswith("bare"), width=10))
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
    parser.add_argument("--seed-only", action="store_true", help="diagnostics: seed and time, no servers")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and databases")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if shutil.which("wrk") is None and not args.seed_only:
        sys.exit("wrk is not installed: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    script = tmp / "get.lua"
    script.write_text(LUA)
    try:
        if args.seed_only:
            for size in sizes:
                _, _, db_path = setup_database(tmp, size)
                print(f"seeded {size:,} incidents in {seed(db_path, size):.1f} s")
            return 0
        all_results = [bench_size(tmp, size, script, args) for size in sizes]
        summary = report(all_results, args)
        save_results("queue", {"args": vars(args), "results": all_results, "summary": summary})
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
