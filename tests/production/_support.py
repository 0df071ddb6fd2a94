"""Helpers shared by the production-shape tests (the fixtures are in ``conftest.py``):
child processes (gunicorn, RQ workers, sweeps) started as an operator would, private
redis-server and PostgreSQL servers a test may stop and restart, and the invariants every
fault test checks afterwards (:func:`check_invariants`)."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from app.db import utcnow
from app.escalation.models import Escalation, EscalationTimer
from app.extensions import db
from app.incidents.models import Incident
from app.ledger import service as ledger
from app.tenancy import scoped
from tests.escalation._servers import Receiver, free_port

ROOT = Path(__file__).resolve().parents[2]

__all__ = ["ROOT", "free_port", "flask_cli", "gunicorn_server", "Processes", "descendants", "wait_for", "ping",
           "RedisServer", "PostgresServer", "HangingReceiver", "check_invariants"]


def flask_cli(env, *args, check=True, timeout=120):
    """Run ``flask --app wsgi ARGS`` as an operator would; returns the completed process."""
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check:
        assert out.returncode == 0, f"flask {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out


@contextmanager
def gunicorn_server(env, log_path, *, workers=2, timeout=60):
    """``gunicorn -w WORKERS wsgi:app`` on a free loopback port; yields its base URL."""
    port = free_port()
    log = open(log_path, "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--timeout", str(timeout), "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"gunicorn exited with {proc.returncode}:\n{log.read()}")
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or still importing the app
                pass
            if time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"gunicorn did not answer /healthz within 60 s:\n{log.read()}")
            time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


class Processes:
    """Child processes started for a test, each in its own process group; all killed at the end."""

    def __init__(self, env, tmp_path):
        self.env, self.tmp, self.procs = env, tmp_path, []

    def start(self, *args, name, env=None):
        log = open(self.tmp / f"{name}.log", "w+")
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env or self.env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        proc.log, proc.name = log, name
        self.procs.append(proc)
        return proc

    def worker(self, queue_name, name, *, burst=False, env=None):
        env = env or self.env
        args = ["-m", "rq.cli", "worker", "-c", "app.rq_settings", "--url", env["REDIS_URL"], "--with-scheduler"]
        return self.start(*args, *(["--burst"] if burst else []), queue_name, name=name, env=env)

    def sweep(self, name, *, every=None, env=None):
        args = ["-m", "flask", "--app", "wsgi", "escalation", "sweep"]
        return self.start(*args, *(["--every", str(every)] if every else []), name=name, env=env)

    def output(self, proc):
        proc.log.seek(0)
        return proc.log.read()

    def stop(self, proc, sig=signal.SIGTERM, timeout=30):
        """Stop one process (its whole group) and wait for it."""
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        return proc.returncode

    def kill_all(self):
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(10)
            proc.log.close()


def descendants(pid):
    """Every process below ``pid`` (from /proc), deepest first."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))

    def below(p):
        found = []
        for child in children.get(p, []):
            found += below(child) + [child]
        return found

    return below(pid)


def wait_for(condition, timeout, message):
    """Poll ``condition`` every 0.2 s; fail with ``message`` (or its result) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(message() if callable(message) else message)


def ping(conn):
    """True when a Redis connection answers."""
    try:
        return conn.ping()
    except Exception:  # noqa: BLE001 - not up (yet)
        return False


class HangingReceiver(Receiver):
    """A webhook receiver whose first request hangs until ``release`` is set."""

    def __init__(self, secret=None):
        super().__init__(secret)
        self.first_arrived = threading.Event()
        self.release = threading.Event()
        self.calls = []

    def handle(self, headers, body):
        self.calls.append(headers.get("X-AIT-Delivery"))
        if len(self.calls) == 1:
            self.first_arrived.set()
            self.release.wait(30)
            return 503, "the caller died"
        return super().handle(headers, body)


class RedisServer:
    """A private ``redis-server`` (in memory) on a port of its own, to stop and start again."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self):
        from redis import Redis

        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        conn = Redis.from_url(self.url)
        try:
            wait_for(lambda: ping(conn), 10, "redis-server did not start")
        finally:
            conn.close()
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


def _pg_bin(name):
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    return shutil.which(name)


class PostgresServer:
    """A private PostgreSQL cluster (initdb in a temporary folder, a free port), so a test
    can restart a server under load without touching the machine's shared one (other test
    runs use that). Started and restarted with ``pg_ctl``, as an operator would."""

    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="aitracker-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.url = f"postgresql+psycopg://app:app@127.0.0.1:{self.port}/app"

    @staticmethod
    def available():
        return bool(_pg_bin("initdb") and _pg_bin("pg_ctl"))

    def _run(self, *args, timeout=120):
        cmd = list(args)
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                             cwd=self.dir)
        assert out.returncode == 0, f"{' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
        return out

    def start(self):
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        pwfile = self.dir / "pw"
        pwfile.write_text("app\n")
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "app", f"--pwfile={pwfile}",
                  "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")
        with open(self.data / "postgresql.conf", "a") as fh:
            fh.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.dir}'\n"
                     "fsync = off\nmax_connections = 100\n")
        self.pg_ctl("start")
        self.psql("CREATE DATABASE app")
        return self

    def pg_ctl(self, *args):
        """``pg_ctl -D DATA -l LOG -w ARGS`` (``restart -m fast`` is the fault)."""
        return self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", *args)

    def restart(self):
        return self.pg_ctl("restart", "-m", "fast")

    def psql(self, sql):
        env = {**os.environ, "PGPASSWORD": "app"}
        out = subprocess.run([_pg_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "app", "-d", "postgres",
                              "-qc", sql], capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stderr

    def stop(self):
        try:
            if (self.data / "postmaster.pid").exists():
                self.pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def check_invariants(app, org_id, filed_ids, *, total=None, swept_at=None):
    """The three invariants after a fault; returns a summary.

    - every incident whose filing was answered 201 (``filed_ids``) is in the database, once
      (``total``: the exact number of incidents the organisation must have, when known);
    - every escalation timer due at ``swept_at`` (the start of a final sweep, default now)
      is fired, each fired trigger timer of an open incident has its escalation recorded,
      and the escalation keys ``(incident, trigger, level, occurrence)`` are unique;
    - the organisation's ledger verifies.
    """
    swept_at = swept_at or utcnow()
    filed_ids = list(filed_ids)
    assert len(filed_ids) == len(set(filed_ids)), "one id answered twice"
    with app.app_context(), scoped(org_id):
        try:
            ids = set(db.session.execute(select(Incident.id)).scalars())
            missing = set(filed_ids) - ids
            assert not missing, f"incidents answered 201 but not in the database: {sorted(missing)}"
            if total is not None:
                assert len(ids) == total, f"{len(ids)} incidents in the database, expected {total}"

            keys = db.session.execute(select(Escalation.incident_id, Escalation.trigger, Escalation.level,
                                             Escalation.occurrence)).all()
            assert len(keys) == len(set(keys)), "an escalation was recorded twice"
            unfired = db.session.execute(select(func.count(EscalationTimer.id)).where(
                EscalationTimer.fired_at.is_(None), EscalationTimer.due_at <= swept_at)).scalar_one()
            assert unfired == 0, f"{unfired} due escalation timers not fired after the final sweep"
            fired = db.session.execute(
                select(EscalationTimer.incident_id, EscalationTimer.trigger, EscalationTimer.level,
                       EscalationTimer.occurrence)
                .join(Incident, Incident.id == EscalationTimer.incident_id)
                .where(EscalationTimer.fired_at.is_not(None), EscalationTimer.escalation_id.is_(None),
                       Incident.is_open.is_(True))).all()
            unrecorded = set(fired) - set(keys)
            assert not unrecorded, f"fired timers without their escalation: {sorted(unrecorded)[:5]}"
            result = ledger.verify(org_id)
            assert result["ok"], f"the ledger does not verify: {result.get('first_bad')}"
            return {"incidents": len(ids), "escalations": len(keys), "fired_timers": len(fired),
                    "ledger_entries": result["entries"]}
        finally:
            db.session.rollback()
            db.session.remove()
