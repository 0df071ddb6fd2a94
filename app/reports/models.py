"""Long exports (report packs) run as jobs; their progress and result live here."""
from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime, utcnow
from app.extensions import db
from app.tenancy import OrgScoped

JSONDoc = JSON().with_variant(JSONB(), "postgresql")
EXPORT_STATUSES = ("queued", "running", "done", "failed")


class ExportJob(OrgScoped, db.Model):
    """One export asked for by a user: what, its progress, and the file once built."""

    __tablename__ = "export_job"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    params = mapped_column(JSONDoc, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued", nullable=False)
    progress: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    total: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    error: Mapped[str] = mapped_column(Text, default="", nullable=False)
    filename: Mapped[str] = mapped_column(String(200), default="", nullable=False)
    content_type: Mapped[str] = mapped_column(String(100), default="", nullable=False)
    result = mapped_column(LargeBinary, nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    finished_at = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (Index("ix_export_job_user", "org_id", "user_id", "id"),)
