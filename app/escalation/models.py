"""Escalation timers (due times in the database), escalation records, their deliveries,
in-app notifications and the organisation's webhook endpoints."""
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import UTCDateTime, utcnow
from app.extensions import db
from app.orgs.models import User
from app.tenancy import OrgScoped

JSONDoc = JSON().with_variant(JSONB(), "postgresql")

DELIVERY_STATUSES = ("pending", "sent", "failed")
CHANNELS = ("in_app", "email", "webhook")


class EscalationTimer(OrgScoped, db.Model):
    """Something that escalates when ``due_at`` passes, unless it stops applying first.

    Key ``(incident_id, trigger, level, occurrence)``: the escalation it records carries the
    same key, unique, so a timer fires once however many sweeps see it.
    """

    __tablename__ = "escalation_timer"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    trigger: Mapped[str] = mapped_column(String(96))
    level: Mapped[int] = mapped_column(Integer)
    occurrence: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    due_at = mapped_column(UTCDateTime, nullable=False)
    # The escalation this timer follows up (not acknowledged -> next level; repeat).
    escalation_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalation.id", ondelete="CASCADE"), nullable=True, index=True
    )
    fired_at = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (
        UniqueConstraint("incident_id", "trigger", "level", "occurrence", name="uq_escalation_timer_key"),
        # The sweep: unfired timers by due time, across organisations.
        Index("ix_escalation_timer_due", "fired_at", "due_at"),
    )


class Escalation(OrgScoped, db.Model):
    """One escalation of an incident to a level: why, to whom, when, acknowledged by whom."""

    __tablename__ = "escalation"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    policy: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(96))
    level: Mapped[int] = mapped_column(Integer)
    occurrence: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # filed_severity | state_target_passed | deadline_progress | deadline_overdue | not_acknowledged
    reason: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str | None] = mapped_column(String(64), nullable=True)
    external: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # [{"type": "user", "id", "name", "email", "locale"} | {"type": "authority", "name"} | {"type": "webhook", "id"}]
    recipients = mapped_column(JSONDoc, nullable=False, default=list)
    detail = mapped_column(JSONDoc, nullable=False, default=dict)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    acknowledged_at = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    # How many reminder rounds went out after the first notification.
    repeats: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    acknowledged_by = relationship(User, lazy="joined")
    deliveries = relationship("Delivery", back_populates="escalation", order_by="Delivery.id", lazy="selectin")
    __table_args__ = (
        UniqueConstraint("incident_id", "trigger", "level", "occurrence", name="uq_escalation_key"),
        Index("ix_escalation_incident", "incident_id", "id"),
        Index("ix_escalation_org_open", "org_id", "acknowledged_at", "id"),
        Index("ix_escalation_org_created", "org_id", "created_at", "level"),
    )


class Delivery(OrgScoped, db.Model):
    """One notification of an escalation on one channel to one recipient, in one round.

    The database, not the job queue, is the truth: a pending delivery whose
    ``next_attempt_at`` has passed (and whose lease, if any, expired) is enqueued again
    by the sweep, so a lost job or a killed worker only delays it.
    """

    __tablename__ = "escalation_delivery"
    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalation.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    # An e-mail address, "user:<id>" (in-app) or "webhook:<id>".
    recipient: Mapped[str] = mapped_column(String(320))
    round: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at = mapped_column(UTCDateTime, nullable=True)
    locked_until = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="", nullable=False)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    sent_at = mapped_column(UTCDateTime, nullable=True)
    escalation = relationship(Escalation, back_populates="deliveries")
    __table_args__ = (
        UniqueConstraint("escalation_id", "channel", "recipient", "round", name="uq_escalation_delivery_key"),
        Index("ix_escalation_delivery_due", "status", "next_attempt_at"),
    )


class Notification(OrgScoped, db.Model):
    """An in-app notification for one user."""

    __tablename__ = "notification"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalation.id", ondelete="CASCADE"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    read_at = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (
        UniqueConstraint("escalation_id", "user_id", "round", name="uq_notification_key"),
        Index("ix_notification_user", "org_id", "user_id", "read_at", "id"),
    )


class WebhookEndpoint(OrgScoped, db.Model):
    """A receiver of escalation webhooks (signed with HMAC-SHA256 under ``secret``)."""

    __tablename__ = "webhook_endpoint"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(200), default="", nullable=False)
    # The lowest level sent to this endpoint (1: every escalation).
    min_level: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
