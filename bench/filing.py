"""API filing throughput: our ``POST /api/v1/incidents`` against a bare insert endpoint.

    python -m bench.filing [--duration 15] [--connections 8] [--threads 1] [--warmup 3]

Both servers run under ``gunicorn -w 2`` (sync workers) on a fresh SQLite file in WAL
mode in a temporary folder; both are driven, one after the other, by the same wrk Lua
script (POST, the same JSON body, an Authorization header) with the same duration and
connections after a warm-up. For our app the database is built as an operator would:
``flask db upgrade``, ``org create``, ``user create``, ``token create``.

Prints requests/s, the ratio ours/bare (target >= 0.6), p50/p99 latency and error
counts, then checks that the rows in each database match the 2xx responses counted
(a request still in flight when wrk stops may be committed without being counted, so
up to one per connection more rows than responses is reported, not hidden).
Needs wrk (``apt-get install wrk``). Results also go to ``bench/results/filing-*.json``.
"""
import argparse
import json
import os
import platform
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.6

LUA = r"""
-- POST the same incident with a bearer token; count statuses per thread.
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")

local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local agg = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do agg[tostring(code)] = (agg[tostring(code)] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(agg) do table.insert(parts, string.format('"%s": %d', code, n)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "statuses": {%s}, "errors": {"connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, table.concat(parts, ", "),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def free_port():
    """A free TCP port on the loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def incident_body():
    """The JSON body both endpoints receive."""
    now = datetime.now(timezone.utc)
    return json.dumps({
        "title": "チャットボットが他の顧客の注文履歴を表示した",
        "description": "The support chatbot answered with the order details of a different customer. "
                       "サポート用チャットボットが別の顧客の注文情報を回答した。",
        "severity": "sev2",
        "occurred_at": (now - timedelta(hours=5)).isoformat(),
        "aware_at": (now - timedelta(hours=2)).isoformat(),
        "jurisdictions": ["JP"],
        "personal_data": True,
        "harm_types": ["privacy"],
    }, ensure_ascii=False)


def run(cmd, env, **kw):
    """Run a setup command; stop the benchmark with its output if it fails."""
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stdout}\n{out.stderr}")
    return out.stdout


class Gunicorn:
    """``gunicorn -w 2`` serving ``target`` on a free port, until stopped."""

    def __init__(self, target, env, log_path, check_path, workers=2):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
             "--timeout", "120", "--log-level", "warning", target],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                sys.exit(f"gunicorn {target} exited; see {log_path}")
            try:
                with urlopen(self.base + check_path, timeout=2):
                    break
            except URLError as err:
                if getattr(err, "code", None):  # an HTTP answer (e.g. 405): it is up
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                sys.exit(f"gunicorn {target} did not answer within 60 s; see {log_path}")
            time.sleep(0.2)

    def stop(self):
        """SIGTERM and wait."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def wrk(url, token, body, script, args, duration):
    """Drive ``url`` with wrk; returns the BENCH_JSON summary."""
    env = dict(os.environ, BENCH_TOKEN=token, BENCH_BODY=body)
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}s", "--timeout", "30s",
           "-s", str(script), url]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 120)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    sys.exit(f"wrk gave no summary:\n{out.stdout}\n{out.stderr}")


def measure(name, url, token, body, script, args, db_path, table):
    """Warm up, run, and count rows; returns the figures."""
    warm = wrk(url, token, body, script, args, args.warmup) if args.warmup else {"statuses": {}}
    main = wrk(url, token, body, script, args, args.duration)
    time.sleep(1.0)  # let requests in flight when wrk stopped finish
    rows = count_rows(db_path, table)
    ok = sum(n for code, n in list(warm["statuses"].items()) + list(main["statuses"].items())
             if code.startswith("2"))
    non2xx = {code: n for code, n in main["statuses"].items() if not code.startswith("2")}
    rps = main["requests"] / (main["duration_us"] / 1e6)
    return {
        "name": name, "rps": rps, "requests": main["requests"], "p50_ms": main["p50_us"] / 1000,
        "p90_ms": main["p90_us"] / 1000, "p99_ms": main["p99_us"] / 1000, "max_ms": main["max_us"] / 1000,
        "non_2xx": non2xx, "socket_errors": main["errors"], "rows": rows, "ok_responses": ok,
    }


def count_rows(db, table):
    """``SELECT count(*)`` of ``table`` in ``db``: a SQLite file's path, or a SQLAlchemy URL."""
    if isinstance(db, str) and "://" in db:
        from sqlalchemy import create_engine, text

        engine = create_engine(db)
        try:
            with engine.connect() as conn:
                return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        finally:
            engine.dispose()
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def production_env(tmp, database_url):
    """Our app's environment in production mode (no Redis, no sweep thread, no delivery jobs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "FLASK_"))}
    env.pop("REDIS_URL", None)
    env.update({
        "APP_ENV": "production", "SECRET_KEY": secrets.token_hex(32), "SESSION_COOKIE_SECURE": "0",
        "DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp / "instance"),
        "ESCALATION_SWEEP_IN_PROCESS": "0", "DELIVERY_JOBS_ENABLED": "0",
        "LEDGER_SIGNING_KEY_FILE": str(tmp / "ledger-signing-key.pem"),
    })
    return env


def setup_ours(tmp, body, database_url=None):
    """Fresh database (a SQLite file, or ``database_url``), org, user and token through the CLI;
    returns (env, token, db) where db is the SQLite path or the URL."""
    db_path = tmp / "ours.sqlite3" if database_url is None else database_url
    env = production_env(tmp, database_url or f"sqlite:///{db_path}")
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    run(flask + ["db", "upgrade"], env)
    run(flask + ["org", "create", "bench", "--name", "Bench 株式会社"], env)
    run(flask + ["user", "create", "reporter@bench.example.jp", "--org", "bench", "--role", "reporter",
                 "--password", "bench-password-2026"], env)
    token = run(flask + ["token", "create", "reporter@bench.example.jp"], env).strip().splitlines()[-1]
    return env, token, db_path


def setup_bare(tmp, database_url=None):
    """Fresh database (a SQLite file, or ``database_url``) for the bare endpoint; returns (env, token, db)."""
    db_path = tmp / "bare.sqlite3" if database_url is None else database_url
    token = "bare-" + secrets.token_hex(16)
    env = dict(os.environ, BARE_DATABASE_URL=database_url or f"sqlite:///{db_path}", BARE_TOKEN=token)
    run([sys.executable, "-m", "bench.bare_app", "init"], env)
    return env, token, db_path


def report(ours, bare, args):
    """Print the figures; returns the ratio."""
    ratio = ours["rps"] / bare["rps"] if bare["rps"] else 0.0
    print()
    print(f"filing benchmark: gunicorn -w {args.workers} (sync), SQLite WAL, wrk -t{args.threads} -c{args.connections} "
          f"-d{args.duration}s after a {args.warmup}s warm-up, {os.cpu_count()} cores")
    print(f"{'':24}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'sock err':>9}"
          f"{'2xx':>8}{'rows':>8}")
    for r in (ours, bare):
        sock = sum(r["socket_errors"].values())
        print(f"{r['name']:24}{r['rps']:9.1f}{r['p50_ms']:9.1f}{r['p90_ms']:9.1f}{r['p99_ms']:9.1f}"
              f"{sum(r['non_2xx'].values()):9d}{sock:9d}{r['ok_responses']:8d}{r['rows']:8d}")
    print(f"ratio ours/bare: {ratio:.2f} (target >= {TARGET_RATIO})  ->  "
          f"{'OK' if ratio >= TARGET_RATIO else 'BELOW TARGET'}")
    for r in (ours, bare):
        extra = r["rows"] - r["ok_responses"]
        if extra == 0:
            verdict = "rows == 2xx responses"
        elif 0 < extra <= args.connections * (2 if args.warmup else 1):
            verdict = f"{extra} more rows than 2xx responses (requests in flight when wrk stopped)"
        else:
            verdict = f"MISMATCH: {r['rows']} rows for {r['ok_responses']} 2xx responses"
        print(f"check {r['name']}: {verdict}")
    return ratio



def latency_scaling(all_results, keys, target, *, targeted=lambda key: True, width=14):
    """Print and return p50/p99 at the largest size over the smallest, per key of ``all_results``
    (``[{"size", key: {"p50_ms", "p99_ms"}}, ...]``); keys ``targeted`` get a verdict against ``target``."""
    summary = {}
    small, large = all_results[0], all_results[-1]
    for key in keys:
        p50 = large[key]["p50_ms"] / small[key]["p50_ms"]
        p99 = large[key]["p99_ms"] / small[key]["p99_ms"]
        summary[f"scaling_{key}"] = {"p50": p50, "p99": p99}
        note = (f" (target <= {target}) -> {'OK' if p50 <= target else 'ABOVE TARGET'}"
                if targeted(key) else "")
        print(f"latency {large['size']:,} / {small['size']:,} {key:{width}}: p50 {p50:.2f}, p99 {p99:.2f}{note}")
    return summary


def save_results(kind, payload):
    """Write one run's figures to bench/results/<kind>-<UTC time>.json, with the machine and date."""
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    machine = (f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, "
               f"Python {platform.python_version()}")
    path = results / f"{kind}-{stamp}.json"
    path.write_text(json.dumps({"date": stamp, "machine": machine, **payload}, indent=2, ensure_ascii=False))
    return path

def main(argv=None):
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up before each run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (it shares the 2 cores)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2 is the benchmark)")
    parser.add_argument("--only", choices=["ours", "bare"], help="diagnostics: run one side only")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)

    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (the benchmark needs it as its load generator)")

    tmp = Path(tempfile.mkdtemp(prefix="bench-filing-"))
    script = tmp / "post.lua"
    script.write_text(LUA)
    body = incident_body()
    try:
        env, token, db_path = setup_ours(tmp, body)
        server = Gunicorn("wsgi:app", env, tmp / "ours.log", "/healthz", args.workers)
        try:
            ours = measure("ours /api/v1/incidents", server.base + "/api/v1/incidents", token, body, script,
                           args, db_path, "incident")
        finally:
            server.stop()
        env, token, db_path = setup_bare(tmp)
        server = Gunicorn("bench.bare_app:app", env, tmp / "bare.log", "/incidents", args.workers)
        try:
            bare = measure("bare insert /incidents", server.base + "/incidents", token, body, script,
                           args, db_path, "incident")
        finally:
            server.stop()
        ratio = report(ours, bare, args)
        save_results("filing", {"args": vars(args), "ours": ours, "bare": bare, "ratio": ratio})
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
