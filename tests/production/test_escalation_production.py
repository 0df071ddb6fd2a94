"""Escalation in the production shape (PostgreSQL, real Redis, real RQ worker processes,
a real SMTP server and a real webhook receiver): two sweeps and two workers racing record
and send each escalation once; a worker killed with SIGKILL in the middle of a webhook is
retried and recorded once; with Redis stopped filing still answers 201 and the
notifications catch up when Redis returns."""
import os
import secrets
import signal
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import func, select, text, update

from app.db import transaction, utcnow
from app.escalation import endpoints
from app.escalation import service as escalation
from app.escalation.models import Delivery, Escalation, EscalationTimer
from app.extensions import db
from app.incidents import service as incidents
from app.ledger import service as ledger
from app.ledger.models import LedgerEntry
from app.orgs import service as orgs
from app.tenancy import scoped
from tests.escalation._servers import free_port
from tests.production._support import HangingReceiver, Processes, check_invariants
from tests.production._support import descendants as _descendants
from tests.production._support import ping as _ping
from tests.production._support import wait_for as _wait
from tests.web.conftest import incident_data

pytestmark = [pytest.mark.needs_postgres, pytest.mark.needs_redis]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(app, factory):
    org = factory.org()
    ids = {role: factory.user(org, role).id for role in ("reporter", "lead", "admin", "executive")}
    return org, ids


@pytest.fixture
def prod(app, redis_url, smtp, monkeypatch):
    """The app on real Redis (a queue of its own) and the SMTP server; yields (app, env, rq queue)."""
    name = f"test-esc-{uuid.uuid4().hex[:8]}"
    settings = {"REDIS_URL": redis_url, "RQ_QUEUE": name, "DELIVERY_JOBS_ENABLED": True,
                "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port, "DELIVERY_LEASE_SECONDS": 3,
                "DELIVERY_REQUEUE_AFTER_SECONDS": 1}
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "FLASK_"))}
    env.update({"APP_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
                "DATABASE_URL": os.environ["TEST_DATABASE_URL"], "REDIS_URL": redis_url, "RQ_QUEUE": name,
                "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port), "DELIVERY_LEASE_SECONDS": "3",
                "DELIVERY_REQUEUE_AFTER_SECONDS": "1", "ESCALATION_SWEEP_IN_PROCESS": "0",
                "LEDGER_SIGNING_KEY_FILE": app.config["LEDGER_SIGNING_KEY_FILE"], "PYTHONUNBUFFERED": "1"})
    conn = Redis.from_url(redis_url)
    rq_queue = Queue(name, connection=conn)
    yield app, env, rq_queue
    rq_queue.empty()
    rq_queue.delete(delete_jobs=True)
    conn.close()


@pytest.fixture
def processes(prod, tmp_path):
    _app, env, _queue = prod
    procs = Processes(env, tmp_path)
    yield procs
    procs.kill_all()


def _count(stmt):
    value = db.session.execute(stmt).scalar_one()
    db.session.rollback()
    return value


def test_two_sweeps_and_two_workers_racing_record_and_send_each_escalation_once(prod, processes, world, smtp):
    app, env, rq_queue = prod
    org, ids = world
    with app.app_context(), scoped(org.id):
        reporter = orgs.get_user(ids["reporter"])
        filed = [incidents.file_incident(actor=reporter, data=incident_data(severity="sev4", title=f"Race {n}")).id
                 for n in range(12)]
        # Every deadline and target timer is due now.
        with transaction() as s:
            s.execute(update(EscalationTimer).values(due_at=utcnow() - timedelta(minutes=1))
                      .execution_options(synchronize_session=False))
        due = _count(select(func.count(EscalationTimer.id)).where(EscalationTimer.fired_at.is_(None)))
        assert due >= 12 * 4
        db.session.remove()

    workers = [processes.worker(rq_queue.name, f"worker{n}") for n in range(2)]
    sweeps = [processes.sweep(f"sweep{n}") for n in range(2)]
    for proc in sweeps:
        assert proc.wait(120) == 0, processes.output(proc)

    with app.app_context(), scoped(org.id):
        keys = db.session.execute(select(Escalation.incident_id, Escalation.trigger, Escalation.level,
                                         Escalation.occurrence)).all()
        db.session.rollback()
        assert len(keys) == len(set(keys)) == due, "each due timer recorded exactly once"
        assert _count(select(func.count(EscalationTimer.id)).where(
            EscalationTimer.fired_at.is_(None), EscalationTimer.escalation_id.is_(None))) == 0

        emails = _count(select(func.count(Delivery.id)).where(Delivery.channel == "email"))
        internal = _count(select(func.count(Escalation.id)).where(Escalation.external.is_(False)))
        assert emails == internal  # one person per internal level here; nothing is e-mailed to an authority
        _wait(lambda: _count(select(func.count(Delivery.id)).where(Delivery.status != "sent")) == 0, 90,
              "deliveries still pending:\n" + "\n".join(processes.output(w) for w in workers))
        attempts = db.session.execute(select(Delivery.attempts).where(Delivery.channel == "email")).scalars().all()
        db.session.rollback()
        assert set(attempts) == {1}, "no delivery was taken twice"
        message_ids = [m["Message-ID"] for _f, _r, m in smtp.mailbox.messages]
        assert len(message_ids) == len(set(message_ids)) == emails
        assert ledger.verify(org.id)["ok"]
        db.session.remove()
    for proc in workers:
        assert proc.poll() is None, processes.output(proc)
    # The fault tests' invariants (tests/production/test_faults.py) hold after the race too.
    check_invariants(app, org.id, filed, total=12)


def test_a_worker_killed_mid_webhook_is_retried_and_recorded_once(prod, processes, world):
    app, env, rq_queue = prod
    org, ids = world
    receiver = HangingReceiver().start()
    try:
        with app.app_context(), scoped(org.id):
            admin = orgs.get_user(ids["admin"])
            endpoint, secret = endpoints.create_endpoint(actor=admin, data={"url": receiver.url, "min_level": 1})
            receiver.secret = secret
            incident = incidents.file_incident(actor=orgs.get_user(ids["reporter"]),
                                               data=incident_data(severity="sev3", personal_data=False))
            (esc,) = db.session.execute(select(Escalation).where(Escalation.incident_id == incident.id)).unique().scalars()
            hook = db.session.execute(select(Delivery).where(Delivery.escalation_id == esc.id,
                                                             Delivery.channel == "webhook")).scalar_one()
            hook_id = hook.id
            db.session.remove()
        assert rq_queue.count == 1  # the delivery job, after the filing's commit

        worker = processes.worker(rq_queue.name, "doomed")
        assert receiver.first_arrived.wait(60), processes.output(worker)
        # SIGKILL the worker and its work-horse (RQ puts the horse in a session of its own).
        for pid in [*_descendants(worker.pid), worker.pid]:
            os.kill(pid, signal.SIGKILL)
        worker.wait(10)
        receiver.release.set()

        with app.app_context(), scoped(org.id):
            row = db.session.get(Delivery, hook_id)
            assert (row.status, row.attempts) == ("pending", 1) and row.locked_until is not None
            db.session.remove()
            time.sleep(3.5)  # the lease (DELIVERY_LEASE_SECONDS=3) runs out
            counts = escalation.sweep()
            assert counts["requeued"] >= 1
            db.session.remove()

        survivor = processes.worker(rq_queue.name, "survivor", burst=True)
        assert survivor.wait(60) == 0, processes.output(survivor)

        with app.app_context(), scoped(org.id):
            rows = db.session.execute(select(Delivery).where(Delivery.escalation_id == esc.id,
                                                             Delivery.channel == "webhook")).scalars().all()
            assert [(r.id, r.status, r.attempts) for r in rows] == [(hook_id, "sent", 2)]
            entries = db.session.execute(select(LedgerEntry.payload).where(
                LedgerEntry.action == "delivery", LedgerEntry.subject_id == esc.id)).scalars().all()
            webhook_entries = [p for p in entries if f'"delivery":{hook_id},' in p]
            assert len(webhook_entries) == 1 and '"status":"sent"' in webhook_entries[0]
            assert ledger.verify(org.id)["ok"]
            db.session.remove()
        # The receiver saw the same delivery id twice (the first request died with the worker)
        # and accepted it once: deliveries are at-least-once, deduplicated by X-AIT-Delivery.
        assert receiver.calls == [str(hook_id), str(hook_id)]
        assert len(receiver.accepted()) == 1
        check_invariants(app, org.id, [incident.id], total=1)
    finally:
        receiver.release.set()
        receiver.stop()


def test_redis_stopped_filing_answers_201_and_notifications_catch_up(prod, world, factory, smtp, tmp_path):
    app, env, _rq_queue = prod
    org, ids = world
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    app.config["REDIS_URL"] = url
    name = app.config["RQ_QUEUE"]
    with app.app_context(), scoped(org.id):
        user = orgs.get_user(ids["reporter"])
        db.session.expunge(user)
    token = factory.token(user)

    # Redis is down: nothing listens on the port.
    client = app.test_client()
    from tests.conftest import incident_payload

    res = client.post("/api/v1/incidents", json=incident_payload(severity="sev1"),
                      headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 201, res.get_json()
    incident_id = res.get_json()["id"]
    with app.app_context(), scoped(org.id):
        pending = db.session.execute(select(Delivery.id).join(Escalation).where(
            Escalation.incident_id == incident_id, Delivery.channel == "email",
            Delivery.status == "pending")).scalars().all()
        db.session.remove()
    assert len(pending) == 2  # the lead (level 1) and the executive (level 3), kept in the database
    assert smtp.mailbox.messages == []

    # Redis comes back: the sweep enqueues what is due, a worker sends it.
    server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        conn = Redis.from_url(url)
        _wait(lambda: _ping(conn), 10, "redis-server did not start")
        time.sleep(1.1)  # DELIVERY_REQUEUE_AFTER_SECONDS=1
        with app.app_context():
            counts = escalation.sweep()
            assert counts["requeued"] == 2
            worker = SimpleWorker([Queue(name, connection=conn)], connection=conn)
            assert worker.work(burst=True)
            db.session.remove()
            with scoped(org.id):
                statuses = db.session.execute(select(Delivery.status).where(Delivery.id.in_(pending))).scalars().all()
                db.session.remove()
        assert statuses == ["sent", "sent"]
        assert len(smtp.mailbox.messages) == 2
        conn.close()
    finally:
        server.terminate()
        server.wait(10)
