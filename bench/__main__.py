"""The benchmark suite: every figure of docs/benchmarks.md in one run, ours against a bare Flask app.

    python -m bench --quick                       # about 2 min: 10k and 50k incidents, 2 s runs, SQLite
    python -m bench                               # full: 10k and 1M, 10 s runs, SQLite and PostgreSQL
    python -m bench --database postgresql --database-url postgresql+psycopg://app:app@127.0.0.1:5432/app_test
    python -m bench --only queue,dashboard --sizes 10000,100000

For each database (SQLite WAL file, or throwaway databases ``bench_suite_*`` on the PostgreSQL
server of ``--database-url``, created and dropped), one template database is built as an operator
would (``flask db upgrade``, ``org create``, ``user create`` lead/executive/admin, ``token create``;
production mode, no Redis, no in-process sweep, no delivery jobs) and copied for each part (SQLite:
the file; PostgreSQL: ``CREATE DATABASE ... TEMPLATE``). Then, each under ``gunicorn -w 2`` driven by
wrk (every response status counted; a run with non-2xx answers or socket errors is FLAGGED):

- filing: ``POST /api/v1/incidents`` against bench/bare_app.py's insert (fresh databases);
- per size (incidents seeded fast: bench.queue.seed / bench.dashboard.enrich on SQLite, COPY with
  bench.pgseed on PostgreSQL; indexes rebuilt after the load, ANALYZE, daily rollup rebuilt), ours
  and bench/bare_keyset_app.py serving the same database:
  queue (``/api/v1/queue``, ``/queue``), incident page (``/api/v1/incidents/<id>``, ``/incidents/<id>``),
  dashboard (``/api/v1/metrics``, ``/dashboard``, DASHBOARD_METRICS_TTL_SECONDS=0), search
  (``/api/v1/incidents?q=``, ``/incidents?q=``); HTML pages with a session from the login form;
- sweep: bench.sweep.measure, one sweep process against two;
- ledger: bench.ledger.run_on, ``ledger.verify`` against a bare hashlib loop.

Prints one table (bench/table.py) with the targets and saves bench/results/suite-<time>.json (and .md).
"""
import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote
from urllib.request import Request, urlopen

from bench import filing, queue as queue_bench, sweep as sweep_bench, table
from bench.dashboard import EXECUTIVE, login_cookie
from bench.filing import Gunicorn, save_results

PARTS = ("filing", "queue", "incident", "dashboard", "search", "sweep", "ledger")
READ_PARTS = ("queue", "incident", "dashboard", "search")
DEFAULT_PG = "postgresql+psycopg://app:app@127.0.0.1:5432/app_test"
QUICK = {"sizes": "10000,50000", "duration": 2, "warmup": 0, "sweep_timers": 2000, "ledger_entries": 20000,
         "ledger_repeat": 1, "database": "sqlite"}
FULL = {"sizes": "10000,1000000", "duration": 10, "warmup": 2, "sweep_timers": 100_000,
        "ledger_entries": 100_000, "ledger_repeat": 3, "database": "both"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and short runs (under 2 minutes)")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"),
                        help="default: sqlite with --quick, both otherwise")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG),
                        help="a PostgreSQL server URL; the suite creates and drops bench_suite_* databases there")
    parser.add_argument("--only", help=f"comma-separated parts: {','.join(PARTS)}")
    parser.add_argument("--sizes", help="comma-separated incident counts (quick 10000,50000; full 10000,1000000)")
    parser.add_argument("--duration", type=int, help="seconds per wrk run (quick 2, full 10)")
    parser.add_argument("--warmup", type=int, help="seconds of wrk warm-up per endpoint (quick 0, full 2)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (wrk shares the cores)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2 is the benchmark)")
    parser.add_argument("--sweep-timers", type=int, help="due timers for the sweep (quick 2000, full 100000)")
    parser.add_argument("--sweep-batch", type=int, default=200)
    parser.add_argument("--ledger-entries", type=int, help="ledger entries (quick 20000, full 100000)")
    parser.add_argument("--ledger-repeat", type=int, help="ledger runs, best counts (quick 1, full 3)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.size_list = [int(s.replace("_", "")) for s in str(args.sizes).split(",") if s.strip()]
    args.parts = PARTS if not args.only else tuple(p.strip() for p in args.only.split(",") if p.strip())
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {','.join(PARTS)}")
    args.databases = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    return args


class Databases:
    """Fresh databases of one kind: SQLite files in ``tmp``, or throwaway databases on a PostgreSQL server."""

    def __init__(self, kind, tmp, server_url):
        self.kind, self.tmp, self.server_url, self.created = kind, tmp, server_url, []
        if kind == "postgresql":
            from sqlalchemy import create_engine
            from sqlalchemy.engine import make_url

            self.url = make_url(server_url)
            self.admin = create_engine(self.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        self.prefix = f"bench_suite_{os.getpid()}"

    def new(self, name, template=None):
        """A new database (empty, or a copy of ``template``'s); returns its SQLAlchemy URL."""
        if self.kind == "sqlite":
            path = self.tmp / f"{name}.sqlite3"
            if template:
                source = template[len("sqlite:///"):]
                with sqlite3.connect(source) as conn:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                shutil.copyfile(source, path)
            return f"sqlite:///{path}"
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        db = f"{self.prefix}_{name}"
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            source = f' TEMPLATE "{make_url(template).database}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{db}"{source}'))
        self.created.append(db)
        return self.url.set(database=db).render_as_string(hide_password=False)

    def drop(self, url):
        """Remove one database made by ``new``."""
        if self.kind == "sqlite":
            for path in self.tmp.glob(Path(url[len("sqlite:///"):]).name + "*"):
                path.unlink()
            return
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        db = make_url(url).database
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        if db in self.created:
            self.created.remove(db)

    def close(self):
        if self.kind == "postgresql":
            for db in list(self.created):
                self.drop(self.url.set(database=db).render_as_string(hide_password=False))
            self.admin.dispose()


def build_template(dbs, tmp):
    """The operator-built database every part copies; returns (env, token, url)."""
    url = dbs.new("template")
    started = time.perf_counter()
    env, token, _ = queue_bench.setup_database(
        tmp, "template", url, more_users=((EXECUTIVE, "executive"), ("admin@bench.example.jp", "admin")))
    print(f"[{dbs.kind}] template built with the CLI in {time.perf_counter() - started:.1f} s", flush=True)
    return env, token, url


def warm(url, header, value, n=8):
    """A few sequential requests (wakes both workers' connections and caches); status ignored."""
    for _ in range(n):
        try:
            with urlopen(Request(url, headers={header: value}), timeout=30) as resp:
                resp.read()
        except OSError:
            pass


def get(name, url, header, value, script, args):
    warm(url, header, value)
    result = queue_bench.measure(name, url, header, value, script, args)
    print(f"  {name:44} {result['rps']:8.1f} req/s  p50 {result['p50_ms']:7.2f} ms  p99 {result['p99_ms']:7.2f} ms"
          f"{'  non-2xx ' + str(result['non_2xx']) if result['non_2xx'] else ''}", flush=True)
    return result


def bench_filing(dbs, tmp, template, scripts, args):
    """POST /api/v1/incidents against the bare insert, each on a fresh database; returns a row."""
    env0, token, template_url = template
    body = filing.incident_body()
    url = dbs.new("filing_ours", template_url)
    env = dict(env0, DATABASE_URL=url)
    server = Gunicorn("wsgi:app", env, tmp / f"{dbs.kind}-filing-ours.log", "/healthz", args.workers)
    try:
        ours = filing.measure("ours POST /api/v1/incidents", server.base + "/api/v1/incidents", token, body,
                              scripts["post"], args, url if dbs.kind != "sqlite" else url[len("sqlite:///"):],
                              "incident")
    finally:
        server.stop()
    dbs.drop(url)
    bare_url = dbs.new("filing_bare")
    bare_env, bare_token, _ = filing.setup_bare(tmp, bare_url)
    server = Gunicorn("bench.bare_app:app", bare_env, tmp / f"{dbs.kind}-filing-bare.log", "/incidents", args.workers)
    try:
        bare = filing.measure("bare POST /incidents", server.base + "/incidents", bare_token, body, scripts["post"],
                              args, bare_url if dbs.kind != "sqlite" else bare_url[len("sqlite:///"):], "incident")
    finally:
        server.stop()
    dbs.drop(bare_url)
    notes = []
    for side, m in (("ours", ours), ("bare", bare)):
        extra = m["rows"] - m["ok_responses"]
        if not 0 <= extra <= args.connections * (2 if args.warmup else 1):
            notes.append(f"{side}: {m['rows']} rows for {m['ok_responses']} 2xx")
        print(f"  {m['name']:44} {m['rps']:8.1f} req/s  p50 {m['p50_ms']:7.2f} ms  p99 {m['p99_ms']:7.2f} ms  "
              f"rows {m['rows']} / 2xx {m['ok_responses']}", flush=True)
    row = table.pair_row("filing", dbs.kind, "-", ours, bare)
    if notes:
        row["notes"] += notes
        row["verdict"] = "FLAGGED"
    return row, {"ours": ours, "bare": bare}


def seed_size(dbs, tmp, template, size):
    """A copy of the template with ``size`` incidents and the dashboard's data; returns (url, seconds)."""
    url = dbs.new(f"s{size}", template[2])
    started = time.perf_counter()
    if dbs.kind == "sqlite":
        from bench.dashboard import enrich

        path = url[len("sqlite:///"):]
        queue_bench.seed(path, size)
        _, counts = enrich(path)
    else:
        from bench import pgseed

        pgseed.seed(url, size)
        _, counts = pgseed.enrich(url)
    seconds = time.perf_counter() - started
    print(f"[{dbs.kind}] seeded {size:,} incidents in {seconds:.1f} s {counts}", flush=True)
    return url, seconds


def bench_reads(dbs, tmp, template, size, scripts, args):
    """The read parts at one size, ours then bare on the same database; returns {part: (ours, bare)}."""
    env0, token, _ = template
    url, seed_seconds = seed_size(dbs, tmp, template, size)
    incident_id = size  # the newest: open, with its response target (and a regulatory deadline if JP)
    term = quote(queue_bench.SEARCH_TERM)
    script = scripts["get"]
    auth = f"Bearer {token}"
    ours = {}
    env = dict(env0, DATABASE_URL=url, DASHBOARD_METRICS_TTL_SECONDS="0")
    server = Gunicorn("wsgi:app", env, tmp / f"{dbs.kind}-{size}-ours.log", "/healthz", args.workers)
    try:
        base = server.base
        lead = login_cookie(base, queue_bench.LEAD)
        exec_cookie = login_cookie(base, EXECUTIVE)
        plan = {
            "queue": [("queue API", "ours GET /api/v1/queue", "/api/v1/queue?limit=50", "Authorization", auth),
                      ("queue HTML", "ours GET /queue", "/queue", "Cookie", lead)],
            "incident": [("incident API", f"ours GET /api/v1/incidents/{incident_id}",
                          f"/api/v1/incidents/{incident_id}", "Authorization", auth),
                         ("incident HTML", f"ours GET /incidents/{incident_id}", f"/incidents/{incident_id}",
                          "Cookie", lead)],
            "dashboard": [("dashboard API", "ours GET /api/v1/metrics", "/api/v1/metrics", "Authorization", auth),
                          ("dashboard HTML", "ours GET /dashboard", "/dashboard", "Cookie", exec_cookie)],
            "search": [("search API", "ours GET /api/v1/incidents?q=", f"/api/v1/incidents?q={term}",
                        "Authorization", auth),
                       ("search HTML", "ours GET /incidents?q=", f"/incidents?q={term}", "Cookie", lead)],
        }
        for part in parts_at(size, args):
            if part in args.parts:
                for key, name, path, header, value in plan[part]:
                    ours[key] = get(f"{name} ({dbs.kind}, {table.human(size)})", base + path, header, value,
                                    script, args)
    finally:
        server.stop()
    bare = {}
    bare_token = "bare-" + os.urandom(8).hex()
    bare_env = dict(os.environ, BARE_DATABASE_URL=url, BARE_TOKEN=bare_token)
    server = Gunicorn("bench.bare_keyset_app:app", bare_env, tmp / f"{dbs.kind}-{size}-bare.log", "/queue.json",
                      args.workers)
    try:
        auth = f"Bearer {bare_token}"
        paths = {"queue": ("/queue", ""), "incident": (f"/incidents/{incident_id}", ""),
                 "dashboard": ("/dashboard", ""), "search": ("/search", f"?q={term}")}
        for part in parts_at(size, args):
            if part in args.parts:
                path, qs = paths[part]
                for fmt, key in (("json", f"{part} API"), ("html", f"{part} HTML")):
                    bare[key] = get(f"bare GET {path}.{fmt}{qs} ({dbs.kind}, {table.human(size)})",
                                    server.base + f"{path}.{fmt}{qs}", "Authorization", auth, script, args)
    finally:
        server.stop()
    dbs.drop(url)
    return ours, bare, seed_seconds


def parts_at(size, args):
    """The read parts measured at ``size``: all of them, except that --quick measures only the scaling
    parts (queue, dashboard) at sizes above the smallest."""
    if args.quick and size != min(args.size_list):
        return ("queue", "dashboard")
    return READ_PARTS


def bench_sweep(dbs, tmp, template, args):
    url = dbs.new("sweep", template[2])
    env = sweep_bench.environment(url, tmp)
    try:
        figures = sweep_bench.measure(env, url, args.sweep_timers, args.sweep_batch)
    finally:
        dbs.drop(url)
    ok = figures["one_check"]["ok"] and figures["two_check"]["ok"]
    row = table.figure_row("sweep two/one", dbs.kind, args.sweep_timers, figures["ratio"], table.SWEEP,
                           [] if ok else ["escalations or ledger check failed"])
    if not ok:
        row["verdict"] = "FLAGGED"
    row["notes"].append(f"one {figures['one_seconds']} s, two {figures['two_seconds']} s")
    return row, figures


def bench_ledger(dbs, tmp, args):
    from bench import ledger

    url = dbs.new("ledger")
    try:
        figures = ledger.run_on(url, tmp, args.ledger_entries, args.ledger_repeat, dbs.kind)
    finally:
        dbs.drop(url)
    row = table.figure_row("ledger verify/bare", dbs.kind, args.ledger_entries, figures["ratio"], None,
                           [f"verify {figures['verify_per_s']:,}/s, bare {figures['bare_per_s']:,}/s"])
    return row, figures


def run_database(kind, tmp, scripts, args):
    """Every selected part on one kind of database; returns (rows, raw figures)."""
    dbs = Databases(kind, tmp, args.database_url)
    rows, raw = [], {}
    try:
        template = None
        if set(args.parts) - {"ledger"}:
            template = build_template(dbs, tmp)
        if "filing" in args.parts:
            row, raw["filing"] = bench_filing(dbs, tmp, template, scripts, args)
            rows.append(row)
        if set(READ_PARTS) & set(args.parts):
            by_size = {}
            for size in args.size_list:
                ours, bare, seconds = bench_reads(dbs, tmp, template, size, scripts, args)
                by_size[size] = ours
                raw[f"reads_{size}"] = {"ours": ours, "bare": bare, "seed_seconds": round(seconds, 1)}
                for key in ours:
                    rows.append(table.pair_row(key, kind, size, ours[key], bare.get(key)))
            rows += table.scaling_rows(kind, by_size)
        if "sweep" in args.parts:
            row, raw["sweep"] = bench_sweep(dbs, tmp, template, args)
            rows.append(row)
        if "ledger" in args.parts:
            row, raw["ledger"] = bench_ledger(dbs, tmp, args)
            rows.append(row)
    finally:
        dbs.close()
    return rows, raw


def main(argv=None):
    args = parse_args(argv)
    if shutil.which("wrk") is None and set(args.parts) & {"filing", *READ_PARTS}:
        sys.exit("wrk is not installed: apt-get install wrk")
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="bench-suite-"))
    os.environ.setdefault("INSTANCE_PATH", str(tmp / "instance"))
    scripts = {"post": tmp / "post.lua", "get": tmp / "get.lua"}
    scripts["post"].write_text(filing.LUA)
    scripts["get"].write_text(queue_bench.LUA)
    wrk_args = SimpleNamespace(threads=args.threads, connections=args.connections, duration=args.duration,
                               warmup=args.warmup, workers=args.workers)
    rows, raw = [], {}
    try:
        for kind in args.databases:
            kind_rows, raw[kind] = run_database(kind, tmp, scripts, wrk_args_for(args, wrk_args))
            rows += kind_rows
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.perf_counter() - started
    text = table.format_table(rows)
    print()
    print(f"python -m bench{' --quick' if args.quick else ''}: gunicorn -w {args.workers} (sync), wrk -t{args.threads} "
          f"-c{args.connections} -d{args.duration}s (warm-up {args.warmup} s), {os.cpu_count()} cores, "
          f"{elapsed:.0f} s in all")
    print(text)
    saved_args = {k: v for k, v in vars(args).items() if k != "database_url"}
    path = save_results("suite", {"args": saved_args, "seconds": round(elapsed, 1), "rows": rows, "raw": raw})
    path.with_suffix(".md").write_text(table.format_table(rows, markdown=True) + "\n")
    print(f"results: {path.relative_to(filing.ROOT)} (and .md)")
    return 1 if any(r["verdict"] == "FLAGGED" for r in rows) else 0


def wrk_args_for(args, wrk_args):
    """One namespace with both the suite's options and the wrk/gunicorn ones the scripts read."""
    merged = SimpleNamespace(**vars(args))
    merged.__dict__.update(vars(wrk_args))
    return merged


if __name__ == "__main__":
    sys.exit(main())
