"""Faults in the production shape, each while incidents are being filed through the JSON API
of a real gunicorn (client threads) and the escalation sweep runs as its own process
(``flask escalation sweep --every 1``), with real RQ workers and a real SMTP server:

a. an RQ worker and its work-horse killed with SIGKILL in the middle of a webhook delivery;
b. Redis stopped for 30 seconds (a private redis-server);
c. PostgreSQL restarted (``pg_ctl restart -m fast``) under load (a private cluster, so the
   machine's shared server, which other test runs use, is never restarted);
d. two sweeps at once: ``test_escalation_production.py::test_two_sweeps_and_two_workers_...``
   (it ends with the same invariants check).

After each fault :func:`tests.production._support.check_invariants` checks that every
incident answered 201 is in the database, every due escalation timer is fired and recorded
once after a final sweep, and the ledger verifies; ``flask ledger verify`` must exit 0 too.
SQLite's disk full is ``tests/test_sqlite_faults.py``.
"""
import os
import secrets
import signal
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
import requests
from redis import Redis
from rq import Queue
from sqlalchemy import func, select, update

from app.db import transaction, utcnow
from app.escalation import endpoints
from app.escalation.models import Delivery, EscalationTimer
from app.extensions import db
from app.orgs import service as orgs
from app.tenancy import scoped
from tests.conftest import incident_payload
from tests.production._support import (
    HangingReceiver, PostgresServer, Processes, RedisServer, check_invariants, descendants, flask_cli,
    gunicorn_server, wait_for,
)

pytestmark = [pytest.mark.needs_postgres, pytest.mark.needs_redis]

SLUG = "fault-co"
REDIS_OUTAGE_SECONDS = 30


class Deployment:
    """One production deployment for a fault test: its environment, database set up with the
    CLI (organisation, people, a reporter's token), child processes and a checker app."""

    def __init__(self, env, tmp_path, make_app):
        self.env, self.tmp = env, tmp_path
        self.procs = Processes(env, tmp_path)
        flask_cli(env, "db", "upgrade")
        flask_cli(env, "org", "create", SLUG, "--name", "障害試験 株式会社")
        for role in ("reporter", "lead", "admin", "executive"):
            flask_cli(env, "user", "create", f"{role}@{SLUG}.example.jp", "--org", SLUG, "--role", role,
                      "--password", "a-long-production-password")
        self.token = flask_cli(env, "token", "create", f"reporter@{SLUG}.example.jp").stdout.strip().splitlines()[-1]
        # Reads and test set-up only: nothing it does is enqueued anywhere.
        self.app = make_app(env["DATABASE_URL"], REDIS_URL=None, ESCALATION_SWEEP_IN_PROCESS=False,
                            DELIVERY_JOBS_ENABLED=False)
        with self.app.app_context():
            self.org_id = orgs.get_org_by_slug(SLUG).id
            db.session.remove()

    def make_timers_due(self):
        """Every unfired escalation timer is due now (deadline marks, targets, follow-ups)."""
        with self.app.app_context(), scoped(self.org_id):
            with transaction() as s:
                s.execute(update(EscalationTimer).where(EscalationTimer.fired_at.is_(None))
                          .values(due_at=utcnow() - timedelta(minutes=1))
                          .execution_options(synchronize_session=False))
            db.session.remove()

    def count(self, stmt):
        with self.app.app_context(), scoped(self.org_id):
            try:
                return db.session.execute(stmt).scalar_one()
            finally:
                db.session.remove()

    def final_check(self, filed, **kw):
        """A final sweep (the CLI, as an operator would run it), then the invariants."""
        self.make_timers_due()
        swept_at = utcnow()
        flask_cli(self.env, "escalation", "sweep")
        summary = check_invariants(self.app, self.org_id, filed, swept_at=swept_at, **kw)
        verified = flask_cli(self.env, "ledger", "verify", check=False)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        return summary


@pytest.fixture
def deploy(fresh_database_url, redis_url, smtp, tmp_path, make_app, app):
    """``deploy(database_url=None, redis_url=None)`` -> a :class:`Deployment` (children killed at the end)."""
    made = []

    def _deploy(database_url=None, redis=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "FLASK_"))}
        env.update({
            "APP_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
            "DATABASE_URL": database_url or fresh_database_url, "REDIS_URL": redis or redis_url,
            "RQ_QUEUE": f"test-faults-{secrets.token_hex(4)}", "INSTANCE_PATH": str(tmp_path / "instance"),
            "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port), "DELIVERY_LEASE_SECONDS": "3",
            "DELIVERY_REQUEUE_AFTER_SECONDS": "1", "ESCALATION_SWEEP_IN_PROCESS": "0",
            "LEDGER_SIGNING_KEY_FILE": app.config["LEDGER_SIGNING_KEY_FILE"], "PYTHONUNBUFFERED": "1",
        })
        deployment = Deployment(env, tmp_path, make_app)
        made.append(deployment)
        return deployment

    yield _deploy
    for deployment in made:
        deployment.procs.kill_all()
        try:
            conn = Redis.from_url(deployment.env["REDIS_URL"], socket_connect_timeout=1)
            Queue(deployment.env["RQ_QUEUE"], connection=conn).delete(delete_jobs=True)
            conn.close()
        except Exception:  # noqa: BLE001 - a private Redis may be gone already
            pass


class Filers:
    """Client threads filing incidents through the API until stopped; every answer counted."""

    def __init__(self, base, token, threads=2, severity="sev2", pause=0.2):
        self.base, self.token, self.severity, self.pause = base, token, severity, pause
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.filed, self.statuses, self.errors, self.attempts = [], Counter(), Counter(), 0
        self.last_201 = 0.0
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def _run(self, n):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.token}"
        i = 0
        while not self.stop_event.is_set():
            i += 1
            body = incident_payload(severity=self.severity, title=f"Filed under a fault {n}-{i}",
                                    personal_data=False)
            with self.lock:
                self.attempts += 1
            try:
                res = session.post(f"{self.base}/api/v1/incidents", json=body, timeout=30)
            except requests.RequestException as exc:
                with self.lock:
                    self.errors[type(exc).__name__] += 1
                session.close()
                session = requests.Session()
                session.headers["Authorization"] = f"Bearer {self.token}"
                self.stop_event.wait(0.2)
                continue
            with self.lock:
                self.statuses[res.status_code] += 1
                if res.status_code == 201:
                    self.filed.append(res.json()["id"])
                    self.last_201 = time.monotonic()
            if res.status_code != 201:
                self.stop_event.wait(0.2)
            else:
                self.stop_event.wait(self.pause)
        session.close()

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(60)
        return list(self.filed)

    def count_201(self):
        with self.lock:
            return len(self.filed)

    def report(self):
        return f"attempts {self.attempts}, statuses {dict(self.statuses)}, errors {dict(self.errors)}"


def _wait_for_filings(filers, more, timeout=60):
    target = filers.count_201() + more
    wait_for(lambda: filers.count_201() >= target, timeout, lambda: f"filing stalled: {filers.report()}")


def test_a_worker_killed_mid_webhook_under_load(deploy, tmp_path):
    """(a) A delivery job hangs on a webhook receiver; the worker and its work-horse are
    SIGKILLed; the lease runs out, the sweep enqueues the delivery again, another worker
    sends it: every webhook delivery recorded sent once, the receiver accepted each once."""
    d = deploy()
    receiver = HangingReceiver().start()
    try:
        with d.app.app_context(), scoped(d.org_id):
            admin = orgs.find_user_by_email(f"admin@{SLUG}.example.jp")
            _endpoint, receiver.secret = endpoints.create_endpoint(actor=admin, data={"url": receiver.url,
                                                                                      "min_level": 1})
            db.session.remove()
        with gunicorn_server(d.env, tmp_path / "gunicorn.log") as base:
            sweep = d.procs.sweep("sweep", every=1)
            doomed = d.procs.worker(d.env["RQ_QUEUE"], "doomed")
            filers = Filers(base, d.token, threads=2, severity="sev3").start()
            try:
                assert receiver.first_arrived.wait(90), d.procs.output(doomed)
                hung = receiver.calls[0]
                for pid in [*descendants(doomed.pid), doomed.pid]:
                    os.kill(pid, signal.SIGKILL)
                doomed.wait(10)
                receiver.release.set()
                survivor = d.procs.worker(d.env["RQ_QUEUE"], "survivor")
                d.make_timers_due()
                _wait_for_filings(filers, 10)
            finally:
                filed = filers.stop()
            assert filers.statuses.keys() == {201} and not filers.errors, filers.report()

            hooks = select(func.count(Delivery.id)).where(Delivery.channel == "webhook")
            wait_for(lambda: d.count(hooks.where(Delivery.status != "sent")) == 0, 300,
                     lambda: "webhooks still pending:\n" + d.procs.output(survivor) + d.procs.output(sweep))
            assert sweep.poll() is None, d.procs.output(sweep)
        total = d.count(hooks)
        assert total >= len(filed)  # one webhook delivery per level-1 escalation (sev3 filings and more)
        with d.app.app_context(), scoped(d.org_id):
            attempts = dict(db.session.execute(select(Delivery.id, Delivery.attempts)
                                               .where(Delivery.channel == "webhook")).all())
            db.session.remove()
        assert attempts[int(hung)] == 2, "the killed delivery was taken again once"
        accepted = [r["headers"]["x-ait-delivery"] for r in receiver.accepted()]
        assert len(accepted) == len(set(accepted)) == total, "each delivery accepted once"
        summary = d.final_check(filed, total=len(filed))
        print(f"\n(a) {filers.report()}; webhooks {total}; {summary}")
    finally:
        receiver.release.set()
        receiver.stop()


def test_redis_stopped_for_30_seconds_under_load(deploy, smtp, tmp_path):
    """(b) Redis stops for 30 s while incidents are filed: every filing still answers 201;
    once Redis is back the sweep enqueues the pending e-mails and a worker sends them."""
    redis = RedisServer().start()
    d = deploy(redis=redis.url)
    try:
        with gunicorn_server(d.env, tmp_path / "gunicorn.log") as base:
            sweep = d.procs.sweep("sweep", every=1)
            for n in range(2):
                d.procs.worker(d.env["RQ_QUEUE"], f"worker{n}")
            # Paced so that the e-mails piling up during the outage stay a few hundred.
            filers = Filers(base, d.token, threads=2, severity="sev3", pause=0.5).start()
            try:
                _wait_for_filings(filers, 5)
                redis.stop()
                before = filers.count_201()
                stopped = time.monotonic()
                d.make_timers_due()  # the sweep keeps recording escalations meanwhile
                time.sleep(REDIS_OUTAGE_SECONDS / 2)
                d.make_timers_due()
                time.sleep(max(0.0, REDIS_OUTAGE_SECONDS - (time.monotonic() - stopped)))
                filed_while_down = filers.count_201() - before
                pending = d.count(select(func.count(Delivery.id)).where(Delivery.channel == "email",
                                                                        Delivery.status == "pending"))
                redis = RedisServer(redis.port).start()
                _wait_for_filings(filers, 5)
            finally:
                filed = filers.stop()
            assert filed_while_down > 0
            assert filers.statuses.keys() == {201} and not filers.errors, filers.report()
            assert pending > 0, "e-mails waited in the database while Redis was down"

            # A worker whose Redis went away may have exited: the supervisor starts a new one.
            for proc in [p for p in d.procs.procs if p.name.startswith("worker")]:
                if proc.poll() is not None:
                    d.procs.worker(d.env["RQ_QUEUE"], f"{proc.name}-restarted")
            emails = select(func.count(Delivery.id)).where(Delivery.channel == "email")
            wait_for(lambda: d.count(emails.where(Delivery.status != "sent")) == 0, 300,
                     lambda: "e-mails still pending:\n" + "\n".join(d.procs.output(p) for p in d.procs.procs))
            assert sweep.poll() is None, d.procs.output(sweep)
        sent = d.count(emails)
        message_ids = [m["Message-ID"] for _f, _r, m in smtp.mailbox.messages]
        assert len(set(message_ids)) == sent, "every e-mail delivery arrived"
        summary = d.final_check(filed, total=len(filed))
        print(f"\n(b) Redis down {REDIS_OUTAGE_SECONDS} s: {filed_while_down} filed meanwhile, {pending} e-mails "
              f"pending; {filers.report()}; e-mails sent {sent}; {summary}")
    finally:
        redis.stop()


@pytest.mark.skipif(not PostgresServer.available(), reason="needs PostgreSQL's initdb and pg_ctl")
def test_postgresql_restarted_under_load(deploy, tmp_path):
    """(c) ``pg_ctl restart -m fast`` while four clients file: some requests fail during the
    restart (counted); every 201 is persisted; filing answers 201 again after the restart."""
    pg = PostgresServer().start()
    try:
        d = deploy(database_url=pg.url)
        with gunicorn_server(d.env, tmp_path / "gunicorn.log") as base:
            sweep = d.procs.sweep("sweep", every=1)
            workers = [d.procs.worker(d.env["RQ_QUEUE"], f"worker{n}") for n in range(2)]
            filers = Filers(base, d.token, threads=4, severity="sev3").start()
            try:
                _wait_for_filings(filers, 20)
                d.make_timers_due()
                before = filers.report()
                pg.restart()
                restarted = time.monotonic()
                # The service answers 201 again (pool_pre_ping replaces the dead connections).
                wait_for(lambda: filers.last_201 > restarted, 60,
                         lambda: f"no 201 after the restart: {filers.report()}")
                recovered_after = filers.last_201 - restarted  # reported, not asserted
                _wait_for_filings(filers, 20)
                d.make_timers_due()
                _wait_for_filings(filers, 5)
            finally:
                filed = filers.stop()
            failed = sum(n for status, n in filers.statuses.items() if status != 201) + sum(filers.errors.values())
            assert set(filers.statuses) <= {201, 500, 502, 503}, filers.report()
            deliveries = select(func.count(Delivery.id)).where(Delivery.channel == "email")
            wait_for(lambda: d.count(deliveries.where(Delivery.status != "sent")) == 0, 300,
                     lambda: "e-mails still pending:\n" + d.procs.output(workers[0]) + d.procs.output(sweep))
            assert sweep.poll() is None, d.procs.output(sweep)
        summary = d.final_check(filed)
        # A request that failed may still have committed (its answer was lost): never more
        # incidents than attempts, never fewer than 201s (check_invariants checked the ids).
        assert len(filed) <= summary["incidents"] <= filers.attempts
        print(f"\n(c) before the restart: {before}; overall: {filers.report()}; failed during the restart: "
              f"{failed}; first 201 {recovered_after:.1f} s after pg_ctl restart returned; {summary}")
    finally:
        pg.stop()
