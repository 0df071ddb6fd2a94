"""Sending one delivery on its channel: e-mail or webhook (in-app rows are written at once).

:func:`send` is called by :func:`app.escalation.delivery.deliver_one` outside any write
transaction, under the delivery's organisation (``tenancy.scoped``). It raises on any
failure; the caller records the error on the delivery and retries it with backoff.

Everything the message needs is read first; the read transaction is then ended
(:func:`end_read`) so no database snapshot stays open while we talk to an SMTP server
or an HTTP receiver.
"""
from sqlalchemy import select

from app.extensions import db
from app.incidents.models import Incident


class ChannelError(RuntimeError):
    """A delivery could not be sent (the message says why)."""


def send(delivery, escalation):
    """Send ``delivery`` (of ``escalation``) on its channel; raise when it was not sent."""
    channel = delivery.channel
    if channel not in ("email", "webhook"):
        raise ChannelError(f"channel {channel!r} is not sent by a job")
    incident = load_incident(escalation)
    if channel == "email":
        from app.escalation import email

        return email.send(delivery, escalation, incident)
    from app.escalation import webhooks

    return webhooks.send(delivery, escalation, incident)


def load_incident(escalation):
    """The escalation's incident, under the current organisation's scope."""
    incident = db.session.execute(
        select(Incident).where(Incident.id == escalation.incident_id)).unique().scalar_one_or_none()
    if incident is None:
        raise ChannelError(f"incident {escalation.incident_id} of escalation {escalation.id} not found")
    return incident


def end_read():
    """End the read transaction before network I/O (loaded objects reload on next access)."""
    db.session.rollback()
