"""The escalation sweep over many due timers: one sweep process against two.

    python -m bench.sweep [--timers 100000] [--database-url postgresql+psycopg://...] [--batch 200]

Builds a fresh database as an operator would (``flask db upgrade``, ``org create``,
``user create``), seeds ``timers / 5`` open incidents with five due deadline timers each
(Core ``executemany``), then:

1. runs ONE ``flask escalation sweep`` process and times it until every timer is fired;
2. resets (escalations, deliveries, notifications, follow-up timers and the ledger
   removed, the timers unfired) and runs TWO sweep processes at once, timed until both end.

Each escalation the sweep records writes the escalation, an in-app notification, two
deliveries (in-app, e-mail), two follow-up timers (next level, reminder) and a ledger
entry. Delivery jobs are off (``DELIVERY_JOBS_ENABLED=0``): this measures the sweep.
Prints the times, escalations per second and the ratio two/one (target >= 1.6), checks
that each run recorded exactly one escalation per timer, and verifies the ledger.
PostgreSQL: ``--database-url`` names a server database the bench may create and drop
(``<url>`` with the database name replaced by ``bench_sweep_<pid>``). Results also go to
``bench/results/sweep-*.json``.
"""
import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.filing import run, save_results

TARGET = 1.6
PER_INCIDENT = 5
PASSWORD = "bench-password-2026"
ROOT = Path(__file__).resolve().parents[1]


def make_database(args, tmp):
    """A fresh database URL (and a cleanup function)."""
    if not args.database_url:
        path = tmp / "sweep.sqlite3"
        return f"sqlite:///{path}", lambda: None
    url = make_url(args.database_url)
    name = f"bench_sweep_{os.getpid()}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def environment(database_url, tmp):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "FLASK_"))}
    env.pop("REDIS_URL", None)
    env.update({"APP_ENV": "production", "SECRET_KEY": secrets.token_hex(32), "DATABASE_URL": database_url,
                "INSTANCE_PATH": str(tmp / "instance"), "DELIVERY_JOBS_ENABLED": "0",
                "ESCALATION_SWEEP_IN_PROCESS": "0", "LEDGER_SIGNING_KEY_FILE": str(tmp / "ledger.pem")})
    return env


def setup(env):
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    run(flask + ["db", "upgrade"], env)
    run(flask + ["org", "create", "bench", "--name", "Bench 株式会社"], env)
    for role in ("lead", "admin", "executive"):
        run(flask + ["user", "create", f"{role}@bench.example.jp", "--org", "bench", "--role", role,
                     "--password", PASSWORD], env)


def seed(engine, timers):
    """``timers / 5`` open incidents with five due timers each; returns seconds."""
    started = time.perf_counter()
    incidents = timers // PER_INCIDENT
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        org_id, lead_id = conn.execute(text(
            "SELECT org_id, id FROM user_account WHERE email = 'lead@bench.example.jp'")).one()
        rows = [{"org_id": org_id, "number": n, "title": f"ベンチ {n}", "description": "Bench incident.",
                 "kind": "incident", "severity": "sev3", "occurred_at": now - timedelta(days=2),
                 "aware_at": now - timedelta(days=2), "harm_types": "[]", "harmed_parties": "[]",
                 "principles": "[]", "jurisdictions": '["JP"]', "personal_data": True, "deaths": 0,
                 "critical_infrastructure": False, "widespread_infringement": False, "serious_incident": False,
                 "wrongful_purpose": False, "confidential": False, "reporter_id": lead_id,
                 "workflow": "jp-ai-incident", "workflow_version": 1, "state": "investigation",
                 "state_entered_at": now, "is_open": True, "queue_due_at": now, "version": 1,
                 "created_at": now, "updated_at": now}
                for n in range(1, incidents + 1)]
        columns = list(rows[0])
        json_cols = {"harm_types", "harmed_parties", "principles", "jurisdictions"}
        cast = "CAST(:{c} AS JSONB)" if engine.dialect.name == "postgresql" else ":{c}"
        values = ", ".join(cast.format(c=c) if c in json_cols else f":{c}" for c in columns)
        for start in range(0, len(rows), 5000):
            conn.execute(text(f"INSERT INTO incident ({', '.join(columns)}) VALUES ({values})"),
                         rows[start:start + 5000])
        ids = [r[0] for r in conn.execute(text("SELECT id FROM incident ORDER BY id"))]
        timer_rows = [{"org_id": org_id, "incident_id": i, "trigger": f"deadline:bench-{k}:50", "level": 1,
                       "occurrence": 0, "due_at": now - timedelta(minutes=1)}
                      for i in ids for k in range(PER_INCIDENT)]
        for start in range(0, len(timer_rows), 10000):
            conn.execute(text("INSERT INTO escalation_timer (org_id, incident_id, trigger, level, occurrence, due_at) "
                              "VALUES (:org_id, :incident_id, :trigger, :level, :occurrence, :due_at)"),
                         timer_rows[start:start + 10000])
    _analyze(engine)  # both runs start from fresh statistics (reset() does the same)
    return time.perf_counter() - started


def _analyze(engine):
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def reset(engine):
    with engine.begin() as conn:
        for table in ("notification", "escalation_delivery", "ledger_entry", "ledger_head", "ledger_checkpoint"):
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("DELETE FROM escalation_timer WHERE escalation_id IS NOT NULL"))
        conn.execute(text("DELETE FROM escalation"))
        conn.execute(text("UPDATE escalation_timer SET fired_at = NULL"))
    _analyze(engine)


def sweep(env, processes, batch):
    """Start ``processes`` sweep processes at once; seconds until the last one ends."""
    # Each process builds the app, waits for the common start time, sweeps, and prints when
    # its sweep started and ended: the figure is the sweeping, not the interpreter's start-up.
    go = time.time() + 6
    cmd = [sys.executable, "-c",
           "import json, time; from app import create_app; from app.escalation import service; "
           "app = create_app(); ctx = app.app_context(); ctx.push(); "
           f"time.sleep(max(0, {go} - time.time())); t0 = time.time(); "
           f"counts = service.sweep(batch={batch}); "
           "print(json.dumps(dict(counts, start=t0, end=time.time())))"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL) for _ in range(processes)]
    outputs = [p.communicate() for p in procs]
    for p, (out, err) in zip(procs, outputs):
        if p.returncode != 0:
            sys.exit(f"sweep process failed ({p.returncode}):\n{out}\n{err}")
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    elapsed = max(r["end"] for r in results) - min(r["start"] for r in results)
    return elapsed, [{"fired": r["fired"], "seconds": round(r["end"] - r["start"], 2)} for r in results]


def check(engine, timers, env):
    with engine.connect() as conn:
        recorded = conn.execute(text("SELECT count(*) FROM escalation")).scalar_one()
        distinct = conn.execute(text(
            "SELECT count(*) FROM (SELECT DISTINCT incident_id, trigger, level, occurrence FROM escalation) k"
        )).scalar_one()
        unfired = conn.execute(text("SELECT count(*) FROM escalation_timer WHERE fired_at IS NULL "
                                    "AND escalation_id IS NULL")).scalar_one()
    verify = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "ledger", "verify"], cwd=ROOT, env=env,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    ok = recorded == distinct == timers and unfired == 0 and verify.returncode == 0
    return {"recorded": recorded, "distinct": distinct, "unfired": unfired, "ledger": verify.stdout.strip(), "ok": ok}


def measure(env, url, timers, batch):
    """Seed ``timers`` due timers into the built database at ``url``, sweep with one process, reset,
    sweep with two; prints and returns the figures."""
    engine = create_engine(url)
    try:
        seeded = seed(engine, timers)
        kind = engine.dialect.name
        print(f"{kind}: seeded {timers} due timers on {timers // PER_INCIDENT} incidents in {seeded:.1f} s")
        one, _out1 = sweep(env, 1, batch)
        check1 = check(engine, timers, env)
        print(f"  1 process : {one:7.1f} s  {timers / one:8.0f} escalations/s  {check1}")
        reset(engine)
        two, out2 = sweep(env, 2, batch)
        check2 = check(engine, timers, env)
        print(f"  2 processes: {two:7.1f} s  {timers / two:8.0f} escalations/s  {check2}  ({out2})")
    finally:
        engine.dispose()
    ratio = one / two
    verdict = "met" if ratio >= TARGET else f"MISSED by {TARGET - ratio:.2f}"
    print(f"  two / one: {ratio:.2f} (target >= {TARGET}: {verdict})")
    return {"database": kind, "seed_seconds": round(seeded, 1), "one_seconds": round(one, 2),
            "two_seconds": round(two, 2), "ratio": round(ratio, 2), "one_check": check1, "two_check": check2}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timers", type=int, default=100_000)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server URL (default: a SQLite file)")
    parser.add_argument("--batch", type=int, default=200, help="timers claimed per transaction")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    url, drop = make_database(args, tmp)
    try:
        env = environment(url, tmp)
        setup(env)
        figures = measure(env, url, args.timers, args.batch)
        kind = figures["database"]
        path = save_results(f"sweep-{kind}", {"timers": args.timers, "batch": args.batch, **figures})
        print(f"results: {path.relative_to(ROOT)}")
        return 0 if figures["one_check"]["ok"] and figures["two_check"]["ok"] else 1
    finally:
        drop()
        if not args.keep:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
