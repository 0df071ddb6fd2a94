"""The ledger: a per-organisation, hash-chained, append-only record of every service action.

No foreign key to users or incidents: a row is never changed after it is written (a
``SET NULL`` on delete would rewrite it and break the chain), so actor and subject are
plain values.
"""
from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime, utcnow
from app.extensions import db
from app.tenancy import OrgScoped


class LedgerEntry(OrgScoped, db.Model):
    """One entry: sequence number, time, actor, action, subject, canonical JSON payload, hashes."""

    __tablename__ = "ledger_entry"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), nullable=False)
    at = mapped_column(UTCDateTime, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Who, for people: "user:12 lead@example.jp", "system:sweep", "cli".
    actor: Mapped[str] = mapped_column(String(320), nullable=False)
    action: Mapped[str] = mapped_column(String(48), nullable=False)
    subject_type: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    subject_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), nullable=True)
    payload: Mapped[str] = mapped_column(Text, nullable=False)  # canonical JSON, as hashed
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
    __table_args__ = (
        UniqueConstraint("org_id", "seq", name="uq_ledger_entry_org_seq"),
        Index("ix_ledger_entry_subject", "org_id", "subject_type", "subject_id", "seq"),
    )


class LedgerHead(OrgScoped, db.Model):
    """The chain head of one organisation: the row appends lock, so the chain never forks."""

    __tablename__ = "ledger_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), nullable=False, default=0)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    __table_args__ = (UniqueConstraint("org_id", name="uq_ledger_head_org"),)


class LedgerCheckpoint(OrgScoped, db.Model):
    """A signed chain head (seq, hash), signed with a key kept outside the database."""

    __tablename__ = "ledger_checkpoint"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
    signed_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    algorithm: Mapped[str] = mapped_column(String(16), nullable=False, default="ed25519")
    key_id: Mapped[str] = mapped_column(String(64), nullable=False)
    # The exact bytes signed (canonical JSON) and the signature (base64).
    statement: Mapped[str] = mapped_column(Text, nullable=False)
    signature: Mapped[str] = mapped_column(Text, nullable=False)
    __table_args__ = (Index("ix_ledger_checkpoint_org_seq", "org_id", "seq"),)
