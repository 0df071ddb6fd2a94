"""An organisation's own copy of a workflow definition, versioned (YAML kept as written)."""
from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime, utcnow
from app.extensions import db
from app.tenancy import OrgScoped


class OrgWorkflow(OrgScoped, db.Model):
    """One version of an organisation's workflow; incidents keep the version they started on."""

    __tablename__ = "org_workflow"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    yaml_text: Mapped[str] = mapped_column(Text)
    # The shipped workflow it was copied from, if any.
    based_on: Mapped[str | None] = mapped_column(String(64), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    __table_args__ = (UniqueConstraint("org_id", "name", "version", name="uq_org_workflow_version"),)
