"""Incident, its deadlines, its tags (for filtering), its timeline, ministry requests and
the organisation's own deadline rules."""
from datetime import datetime, timezone

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import UTCDateTime, utcnow
from app.extensions import db
from app.orgs.models import User
from app.systems.models import AISystem
from app.tenancy import OrgScoped

JSONList = JSON().with_variant(JSONB(), "postgresql")
FAR_FUTURE = datetime(9999, 12, 31, tzinfo=timezone.utc)
DEADLINE_KINDS = ("regulatory", "internal", "state_target")


class Incident(OrgScoped, db.Model):
    """An AI incident, hazard or near miss, as filed and as it evolves."""

    __tablename__ = "incident"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="incident")
    severity: Mapped[str] = mapped_column(String(8))
    occurred_at = mapped_column(UTCDateTime, nullable=False)
    aware_at = mapped_column(UTCDateTime, nullable=False)
    ai_system_id: Mapped[int | None] = mapped_column(
        ForeignKey("ai_system.id", ondelete="SET NULL"), nullable=True, index=True
    )
    harm_types = mapped_column(JSONList, nullable=False, default=list)
    harmed_parties = mapped_column(JSONList, nullable=False, default=list)
    harmed_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sector: Mapped[str | None] = mapped_column(String(32), nullable=True)
    principles = mapped_column(JSONList, nullable=False, default=list)
    jurisdictions = mapped_column(JSONList, nullable=False, default=list)
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
    deaths: Mapped[int] = mapped_column(Integer, default=0)
    critical_infrastructure: Mapped[bool] = mapped_column(Boolean, default=False)
    widespread_infringement: Mapped[bool] = mapped_column(Boolean, default=False)
    serious_incident: Mapped[bool] = mapped_column(Boolean, default=False)
    wrongful_purpose: Mapped[bool] = mapped_column(Boolean, default=False)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    reporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True, index=True
    )
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True, index=True
    )
    workflow: Mapped[str] = mapped_column(String(64))
    workflow_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    state: Mapped[str] = mapped_column(String(64))
    state_entered_at = mapped_column(UTCDateTime, nullable=True)
    # False once the incident reaches a state of category "closed".
    is_open: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # The nearest unmet deadline (regulatory, internal or state target); FAR_FUTURE when none.
    # Never NULL, so the queue's keyset (queue_due_at, severity, id) is a plain index range.
    queue_due_at = mapped_column(UTCDateTime, nullable=False, default=lambda: FAR_FUTURE)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)
    acknowledged_at = mapped_column(UTCDateTime, nullable=True)
    resolved_at = mapped_column(UTCDateTime, nullable=True)

    ai_system = relationship(AISystem, lazy="joined")
    reporter = relationship(User, foreign_keys=[reporter_id], lazy="joined")
    assignee = relationship(User, foreign_keys=[assignee_id], lazy="joined")
    deadlines = relationship(
        "Deadline", back_populates="incident", order_by="Deadline.due_at", lazy="selectin",
        cascade="all, delete-orphan",
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        UniqueConstraint("org_id", "number", name="uq_incident_org_number"),
        Index("ix_incident_org_id_desc", "org_id", "id"),
        Index("ix_incident_org_state", "org_id", "state", "id"),
        Index("ix_incident_org_severity", "org_id", "severity", "id"),
        Index("ix_incident_queue", "org_id", "is_open", "queue_due_at", "severity", "id"),
        Index("ix_incident_assignee", "org_id", "is_open", "assignee_id"),
        # The dashboard's open incidents by state and severity (app/dashboard/service.py): one index range.
        Index("ix_incident_dash_open", "org_id", "is_open", "state", "severity", "workflow", "workflow_version"),
    )

    @property
    def ref(self):
        """The reference people quote, e.g. ``AI-0042``."""
        return f"AI-{self.number:04d}"


class IncidentTag(OrgScoped, db.Model):
    """One value of a multi-valued fact (jurisdiction, harm type, principle), for filters."""

    __tablename__ = "incident_tag"
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True)
    facet: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(32), primary_key=True)
    __table_args__ = (Index("ix_incident_tag_lookup", "org_id", "facet", "value", "incident_id"),)


class Deadline(OrgScoped, db.Model):
    """A reporting deadline an incident carries under one rule."""

    __tablename__ = "deadline"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="regulatory")
    due_at = mapped_column(UTCDateTime, nullable=False)
    source: Mapped[str] = mapped_column(String(300))
    # How the period was counted, for people: e.g. "3 days (Asia/Tokyo)", "72 hours".
    period: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    met_at = mapped_column(UTCDateTime, nullable=True)
    # What met it: a transition name, or "manual".
    met_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    incident = relationship(Incident, back_populates="deadlines")
    __table_args__ = (
        UniqueConstraint("incident_id", "rule", name="uq_deadline_incident_rule"),
        Index("ix_deadline_org_open_due", "org_id", "met_at", "due_at"),
        Index("ix_deadline_dash_unmet", "org_id", "met_at", "kind", "due_at", "incident_id"),
        Index("ix_deadline_dash_kind_due", "org_id", "kind", "due_at", "met_at"),
    )


class TimelineEvent(OrgScoped, db.Model):
    """Something that happened to an incident: who, when, what, from and to which state."""

    __tablename__ = "timeline_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(64), nullable=True)
    to_state: Mapped[str | None] = mapped_column(String(64), nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    data = mapped_column(JSONList, nullable=False, default=dict)
    actor = relationship(User, lazy="joined")
    __table_args__ = (Index("ix_timeline_event_incident_at", "incident_id", "at", "id"),)


class OrgRule(OrgScoped, db.Model):
    """An organisation's own deadline rule (an internal target), in the rules-file format."""

    __tablename__ = "org_rule"
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    definition = mapped_column(JSONList, nullable=False, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)
    __table_args__ = (UniqueConstraint("org_id", "rule_id", name="uq_org_rule_org_rule_id"),)


MINISTRY_REQUEST_KINDS = ("request", "corrective_notice", "guidance", "report_collection")
MINISTRY_REQUEST_STATUSES = ("open", "answered", "closed")


class MinistryRequest(OrgScoped, db.Model):
    """A request, report collection or corrective notice from a ministry (AI Promotion Act levers)."""

    __tablename__ = "ministry_request"
    id: Mapped[int] = mapped_column(primary_key=True)
    ministry: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), default="request")
    reference: Mapped[str] = mapped_column(String(200), default="")
    received_at = mapped_column(UTCDateTime, nullable=False)
    requested_actions: Mapped[str] = mapped_column(Text, default="")
    due_at = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)
    __table_args__ = (Index("ix_ministry_request_org_status", "org_id", "status", "id"),)


class IncidentMinistryRequest(OrgScoped, db.Model):
    """The link between an incident and a ministry request."""

    __tablename__ = "incident_ministry_request"
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("ministry_request.id", ondelete="CASCADE"), primary_key=True)
    linked_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    __table_args__ = (Index("ix_incident_ministry_request_request", "request_id"),)
