"""The sweep enqueues an overdue delivery again at most once per requeue period: when the
workers are behind, a sweep every few seconds must not pile up one more job per waiting
escalation each time (found by the locust load test, docs/benchmarks.md "Load (locust)")."""
from datetime import timedelta

from sqlalchemy import select, update

from app.db import transaction, utcnow
from app.escalation import service as escalation
from app.escalation.models import Delivery
from app.extensions import db
from app.incidents import service as incidents
from app.orgs import service as orgs
from app.tenancy import scoped
from tests.web.conftest import incident_data


def test_an_overdue_delivery_is_requeued_once_per_period(app, factory, monkeypatch):
    monkeypatch.setitem(app.config, "DELIVERY_JOBS_ENABLED", False)  # the deliveries stay pending
    monkeypatch.setitem(app.config, "DELIVERY_REQUEUE_AFTER_SECONDS", 60)
    org = factory.org()
    reporter = factory.user(org, "reporter")
    factory.user(org, "lead")
    with app.app_context(), scoped(org.id):
        incidents.file_incident(actor=orgs.get_user(reporter.id), data=incident_data(severity="sev3"))
        with transaction() as s:  # the job was lost: its deliveries are overdue
            s.execute(update(Delivery).where(Delivery.channel != "in_app")
                      .values(next_attempt_at=utcnow() - timedelta(minutes=5))
                      .execution_options(synchronize_session=False))
        db.session.remove()
    with app.app_context():
        now = utcnow()
        assert escalation.sweep(now=now)["requeued"] == 1
        assert escalation.sweep(now=now + timedelta(seconds=5))["requeued"] == 0  # the next sweep
        assert escalation.sweep(now=now + timedelta(seconds=61))["requeued"] == 1  # a period later
        with scoped(org.id):
            due = db.session.execute(select(Delivery.next_attempt_at).where(Delivery.status == "pending",
                                                                            Delivery.channel != "in_app")).scalars().all()
        assert due and all(d > now + timedelta(seconds=61) for d in due)
        db.session.remove()
