"""Load test of the production shape with locust: ``python -m bench.load [--minutes 5] [--users 20]``.

Builds a fresh PostgreSQL database as an operator would (``flask db upgrade``, the
organisation, people and API tokens with the CLI, some seed incidents through the API),
starts ``gunicorn -w 2``, two RQ workers (``rq worker -c app.rq_settings --with-scheduler``),
one sweep process (``flask escalation sweep --every 5``) and an SMTP sink, runs
``locust -f bench/locustfile.py --headless`` against it, then reports: requests, failures
(must be 0), p50/p95 per request type, incidents filed (201s counted by the locustfile) against
incidents in the database (must be equal: 0 lost), and ``flask ledger verify``. Exits 1 when a
check fails. The figures also go to ``bench/results/load-<time>.json`` and ``.md``.

Needs PostgreSQL (``--database-url``: a server where it may CREATE and DROP DATABASE
``bench_load_*``), Redis (``--redis-url``) and locust (``pip install -e '.[bench]'``).
"""
import argparse
import csv
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PASSWORD = "a-long-load-test-password"
SLUG = "load-co"
ROLES = {"employee": ("reporter", 8), "lead": ("lead", 3), "executive": ("executive", 2), "admin": ("admin", 1)}
SEED = 40


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _flask(env, *args):
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


class Children:
    """Child processes, each in its own process group, logs under one folder."""

    def __init__(self, env, logs):
        self.env, self.logs, self.procs = env, logs, []

    def start(self, name, *args):
        log = open(self.logs / f"{name}.log", "w")
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        proc.name, proc.logfile = name, log
        self.procs.append(proc)
        return proc

    def stop_all(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
            proc.logfile.close()


def _wait_http(url, proc, timeout=90):
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.name} exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def _seed(base, token):
    """File SEED incidents through the API (201s counted like the load's)."""
    import requests

    now = datetime.now(timezone.utc)
    ids = []
    with requests.Session() as s:
        s.headers["Authorization"] = f"Bearer {token}"
        for n in range(SEED):
            body = {"title": f"初期データ {n}: 採用AIが特定の大学の応募者を一律に低評価",
                    "description": "Seed incident for the load test.", "severity": ["sev2", "sev3", "sev4"][n % 3],
                    "occurred_at": (now - timedelta(days=2)).isoformat(),
                    "aware_at": (now - timedelta(hours=3)).isoformat(), "jurisdictions": ["JP"],
                    "personal_data": n % 4 == 0, "harm_types": ["discrimination"]}
            res = s.post(f"{base}/api/v1/incidents", json=body, timeout=30)
            if res.status_code != 201:
                raise SystemExit(f"seeding failed: {res.status_code} {res.text[:300]}")
            ids.append(res.json()["id"])
    return ids


def _stats(csv_path):
    rows = []
    with open(csv_path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rows.append({"type": row["Type"], "name": row["Name"], "requests": int(row["Request Count"]),
                         "failures": int(row["Failure Count"]), "p50": row["50%"], "p95": row["95%"],
                         "rps": round(float(row["Requests/s"]), 2)})
    return rows


def _machine():
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = ""
    try:
        kb = int(next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal")))
        mem = f"{kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu}), {mem}, {platform.platform()}, Python {platform.python_version()}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=float, default=None, help="users started per second (default: --users)")
    parser.add_argument("--database-url", default=os.environ.get(
        "LOAD_DATABASE_URL", "postgresql+psycopg://app:app@127.0.0.1:5432/postgres"),
        help="a PostgreSQL server where bench_load_* databases may be created (its database part is ignored)")
    parser.add_argument("--redis-url", default=os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)

    from aiosmtpd.controller import Controller
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    url = make_url(args.database_url)
    name = f"bench_load_{secrets.token_hex(4)}"
    maintenance = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with maintenance.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    database_url = url.set(database=name).render_as_string(hide_password=False)

    class Sink:
        count = 0

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            Sink.count += 1
            return "250 OK"

    smtp_port = _free_port()
    smtp = Controller(Sink(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "FLASK_"))}
    env.update({
        "APP_ENV": "production", "SECRET_KEY": secrets.token_hex(32), "DATABASE_URL": database_url,
        "REDIS_URL": args.redis_url, "RQ_QUEUE": f"bench-load-{secrets.token_hex(4)}",
        "INSTANCE_PATH": str(work / "instance"), "SESSION_COOKIE_SECURE": "0",
        "ESCALATION_SWEEP_IN_PROCESS": "0", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_port),
        "LEDGER_SIGNING_KEY_FILE": str(work / "ledger-signing.pem"), "PYTHONUNBUFFERED": "1",
    })
    children = Children(env, work)
    ok = True
    try:
        print(f"== database {name}: flask db upgrade, organisation, people, tokens (logs in {work})", flush=True)
        _flask(env, "db", "upgrade")
        _flask(env, "org", "create", SLUG, "--name", "負荷試験 株式会社")
        tokens = {}
        for key, (role, count) in ROLES.items():
            for n in range(count):
                email = f"{key}{n}@{SLUG}.example.jp"
                _flask(env, "user", "create", email, "--org", SLUG, "--role", role, "--password", PASSWORD)
                tokens.setdefault(key, []).append(_flask(env, "token", "create", email).strip().splitlines()[-1])
        config = work / "load-config.json"
        config.write_text(json.dumps({"tokens": tokens, "executive_email": f"executive0@{SLUG}.example.jp",
                                      "password": PASSWORD}))

        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        gunicorn = children.start("gunicorn", "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                                  "--timeout", "60", "wsgi:app")
        for n in range(2):
            children.start(f"worker{n}", "-m", "rq.cli", "worker", "-c", "app.rq_settings", "--url", args.redis_url,
                           "--with-scheduler", env["RQ_QUEUE"])
        children.start("sweep", "-m", "flask", "--app", "wsgi", "escalation", "sweep", "--every", "5")
        _wait_http(f"{base}/healthz", gunicorn)
        seeded = _seed(base, tokens["employee"][0])
        print(f"== seeded {len(seeded)} incidents; locust: {args.users} users for {args.minutes} min", flush=True)

        result_file = work / "locust-result.json"
        run_time = f"{int(args.minutes * 60)}s"
        locust_env = {**env, "LOAD_CONFIG": str(config), "LOAD_RESULT": str(result_file)}
        started = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
             "-u", str(args.users), "-r", str(args.spawn_rate or args.users), "--run-time", run_time,
             "--host", base, "--csv", str(work / "locust"), "--only-summary", "--stop-timeout", "10"],
            cwd=ROOT, env=locust_env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        elapsed = time.monotonic() - started
        (work / "locust.log").write_text(out.stdout + out.stderr)
        rows = _stats(work / "locust_stats.csv")
        loaded = json.loads(result_file.read_text())
        for proc in children.procs:
            if proc.poll() is not None:
                ok = False
                print(f"!! {proc.name} exited with {proc.returncode} during the run", flush=True)

        # Let the workers finish what is queued, then count.
        from redis import Redis
        from rq import Queue

        conn = Redis.from_url(args.redis_url)
        queue = Queue(env["RQ_QUEUE"], connection=conn)
        deadline = time.monotonic() + 120
        while queue.count and time.monotonic() < deadline:
            time.sleep(1)
        backlog = queue.count
        children.stop_all()
        queue.delete(delete_jobs=True)
        conn.close()

        engine = create_engine(url.set(database=name))
        with engine.connect() as c:
            in_db = c.execute(text("SELECT count(*) FROM incident")).scalar_one()
            ids = set(c.execute(text("SELECT id FROM incident")).scalars())
            deliveries = dict(c.execute(text(
                "SELECT status, count(*) FROM escalation_delivery WHERE channel = 'email' GROUP BY status")).all())
            escalations = c.execute(text("SELECT count(*) FROM escalation")).scalar_one()
            dup_keys = c.execute(text(
                "SELECT count(*) FROM (SELECT 1 FROM escalation GROUP BY incident_id, trigger, level, occurrence "
                "HAVING count(*) > 1) d")).scalar_one()
            ledger_entries = c.execute(text("SELECT count(*) FROM ledger_entry")).scalar_one()
        engine.dispose()
        verify = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "ledger", "verify"], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=600)

        filed = loaded["filed"] + len(seeded)
        missing = (set(loaded["filed_ids"]) | set(seeded)) - ids
        total = next((r for r in rows if r["name"] == "Aggregated"), None)
        failures = total["failures"] if total else -1
        report = {
            "date": stamp, "machine": _machine(), "load_average": os.getloadavg(),
            "command": f"python -m bench.load --minutes {args.minutes:g} --users {args.users}",
            "run_seconds": round(elapsed, 1), "users": args.users, "stats": rows,
            "seeded": len(seeded), "filed_by_locust": loaded["filed"], "filed_total": filed,
            "incidents_in_db": in_db, "lost": len(missing), "conflicts_409": loaded["conflicts"],
            "escalations": escalations, "duplicate_escalation_keys": dup_keys, "emails": deliveries,
            "emails_received_by_sink": Sink.count, "queue_backlog_after_120s": backlog,
            "ledger_entries": ledger_entries, "ledger_verify_exit": verify.returncode,
            "ledger_verify": verify.stdout.strip(),
        }
        ok = ok and failures == 0 and in_db == filed and not missing and verify.returncode == 0 and dup_keys == 0
        report["ok"] = ok
        _print(report)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"load-{stamp}.json").write_text(json.dumps(report, ensure_ascii=False, indent=2))
        (RESULTS / f"load-{stamp}.md").write_text(_markdown(report))
        print(f"== written bench/results/load-{stamp}.json and .md", flush=True)
    finally:
        children.stop_all()
        smtp.stop()
        if not args.keep:
            with maintenance.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        maintenance.dispose()
    return 0 if ok else 1


def _markdown(r):
    lines = ["| request | requests | failures | p50 ms | p95 ms | req/s |", "|---|---:|---:|---:|---:|---:|"]
    for row in r["stats"]:
        label = "**all**" if row["name"] == "Aggregated" else f"`{row['name']}`"
        lines.append(f"| {label} | {row['requests']} | {row['failures']} | {row['p50']} | {row['p95']} | {row['rps']} |")
    lines += [
        "",
        f"- incidents filed: {r['filed_total']} ({r['seeded']} seeded + {r['filed_by_locust']} 201s counted by the "
        f"locustfile); in the database: {r['incidents_in_db']}; lost: {r['lost']}",
        f"- 409 conflicts (two leads on one incident; not failures): {r['conflicts_409']}",
        f"- escalations recorded: {r['escalations']} (duplicate keys: {r['duplicate_escalation_keys']}); e-mail "
        f"deliveries by status: {r['emails']}; received by the SMTP sink: {r['emails_received_by_sink']}",
        f"- `flask ledger verify`: exit {r['ledger_verify_exit']} ({r['ledger_verify']}; {r['ledger_entries']} entries)",
        f"- load average at the end: {', '.join(f'{x:.1f}' for x in r['load_average'])}",
    ]
    return "\n".join(lines) + "\n"


def _print(r):
    print(f"== {r['command']}: {r['run_seconds']} s, {r['machine']}")
    print(_markdown(r))
    print("== OK" if r["ok"] else "== FAILED (failures, lost incidents or the ledger)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
