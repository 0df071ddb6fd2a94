"""Sending an escalation's e-mail and webhook deliveries (the job), once each.

``deliver_escalation(org_id, escalation_id)`` is enqueued after the commit that created
the deliveries (and again by the sweep for any pending delivery whose
``next_attempt_at`` passed). For each pending delivery of the escalation it:

1. **claims** it in a short transaction: only a pending delivery whose lease is free is
   taken; ``locked_until`` and ``next_attempt_at`` move to now + the lease, ``attempts``
   grows. A second job for the same delivery finds it leased (or sent) and skips it.
2. **sends** it outside any transaction (SMTP, HTTP POST): the same delivery id travels
   as the e-mail's Message-ID and the webhook's ``X-AIT-Delivery`` header, so a receiver
   can drop the rare repeat (a worker killed after sending but before step 3).
3. **records** the result in a second transaction, with a ledger entry: ``sent``, or the
   error and the next attempt (backoff), or ``failed`` after the last attempt.

A worker killed between 1 and 3 leaves the lease to expire; the sweep then enqueues the
delivery again. The job raises when a delivery failed, so RQ's ``Retry`` tries again too.
"""
import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from app.db import transaction, utcnow
from app.escalation.models import Delivery, Escalation
from app.extensions import db
from app.ledger import service as ledger
from app.tenancy import scoped

log = logging.getLogger(__name__)

BACKOFF_SECONDS = (10, 30, 60, 300, 900, 1800, 3600)


class PermanentFailure(RuntimeError):
    """A delivery that no retry can send (e.g. no SMTP server configured): failed at once."""


class DeliveryFailed(RuntimeError):
    """One or more deliveries of an escalation failed this time (RQ retries the job)."""


def backoff(attempts):
    return BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]


def deliver_escalation(org_id, escalation_id):
    """The job: send every pending delivery of one escalation that is free to take."""
    failures = []
    with scoped(org_id):
        ids = db.session.execute(
            select(Delivery.id).where(Delivery.escalation_id == escalation_id, Delivery.status == "pending")
            .order_by(Delivery.id)).scalars().all()
        db.session.rollback()
        for delivery_id in ids:
            error = deliver_one(delivery_id)
            if error:
                failures.append(f"delivery {delivery_id}: {error}")
    if failures:
        raise DeliveryFailed("; ".join(failures))
    return len(ids)


def _claim(delivery_id, now):
    lease = current_app.config.get("DELIVERY_LEASE_SECONDS", 120)
    until = now + timedelta(seconds=lease)
    with transaction() as s:
        taken = s.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == "pending",
                   or_(Delivery.locked_until.is_(None), Delivery.locked_until <= now))
            .values(locked_until=until, next_attempt_at=until, attempts=Delivery.attempts + 1)
            .execution_options(synchronize_session=False)).rowcount
    return bool(taken)


def deliver_one(delivery_id, *, now=None):
    """Claim, send and record one delivery; returns the error text, or None (sent or not ours)."""
    from app.escalation import channels

    now = now or utcnow()
    if not _claim(delivery_id, now):
        return None  # sent already, or another worker holds it
    delivery = db.session.execute(select(Delivery).where(Delivery.id == delivery_id)).scalar_one()
    escalation = db.session.execute(
        select(Escalation).where(Escalation.id == delivery.escalation_id)).unique().scalar_one()
    db.session.rollback()  # no transaction stays open while we talk to the outside world
    permanent = False
    try:
        if delivery.channel == "email" and not current_app.config.get("MAIL_SERVER"):
            raise PermanentFailure("no SMTP server configured (set MAIL_SERVER)")
        channels.send(delivery, escalation)
        error = None
    except PermanentFailure as exc:
        error, permanent = f"{exc}", True
    except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
        log.warning("delivery %s (%s to %s) failed: %s", delivery.id, delivery.channel, delivery.recipient, exc)
        error = f"{type(exc).__name__}: {exc}"[:2000]
    _record_result(delivery_id, error, permanent=permanent)
    return None if permanent else error


def _record_result(delivery_id, error, *, permanent=False):
    now = utcnow()
    max_attempts = current_app.config.get("DELIVERY_MAX_ATTEMPTS", 8)
    with transaction() as s:
        delivery = s.execute(select(Delivery).where(Delivery.id == delivery_id)).scalar_one()
        if delivery.status == "sent":
            return
        if error is None:
            delivery.status, delivery.sent_at, delivery.last_error = "sent", now, ""
            delivery.locked_until = delivery.next_attempt_at = None
        else:
            delivery.last_error = error
            delivery.locked_until = None
            if permanent or delivery.attempts >= max_attempts:
                delivery.status, delivery.next_attempt_at = "failed", None
            else:
                delivery.next_attempt_at = now + timedelta(seconds=backoff(delivery.attempts))
        ledger.record("delivery", actor="system:delivery", org_id=delivery.org_id, subject_type="escalation",
                      subject_id=delivery.escalation_id, payload={
                          "delivery": delivery.id, "channel": delivery.channel, "recipient": delivery.recipient,
                          "round": delivery.round, "attempt": delivery.attempts, "status": delivery.status,
                          "error": error or ""})
