"""The AI system model."""
from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import UTCDateTime, utcnow
from app.extensions import db
from app.orgs.models import User
from app.tenancy import OrgScoped

ACTOR_ROLES = ("developer", "provider", "business_user")
RISK_LEVELS = ("minimal", "limited", "high", "unacceptable")
STATUSES = ("planned", "in_use", "suspended", "retired")


class AISystem(OrgScoped, db.Model):
    """One AI system the organisation builds, provides or uses."""

    __tablename__ = "ai_system"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text, default="")
    actor_role: Mapped[str] = mapped_column(String(16), default="business_user")
    developer: Mapped[str] = mapped_column(String(200), default="")
    model_name: Mapped[str] = mapped_column(String(200), default="")
    model_version: Mapped[str] = mapped_column(String(100), default="")
    training_sources: Mapped[str] = mapped_column(Text, default="")
    deployment_context: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True, index=True
    )
    risk_level: Mapped[str] = mapped_column(String(16), default="limited")
    eu_high_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="in_use")
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)

    owner = relationship(User, lazy="joined")
    __table_args__ = (Index("ix_ai_system_org_name", "org_id", "name"),)
