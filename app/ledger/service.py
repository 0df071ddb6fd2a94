"""Appending to the ledger, verifying it, and signed checkpoints.

**Appending.** A service calls :func:`record` inside its write transaction. The entry is
held on the session and written just before the transaction commits (a ``before_commit``
hook), after everything else: the organisation's :class:`LedgerHead` row is locked
(``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the transaction already holds the
database's write lock, ``BEGIN IMMEDIATE``), the entries get the next sequence numbers and
their hashes, and the head moves. So the lock is held only for the last few statements,
entries of one transaction are contiguous, a rolled-back transaction leaves none, and
concurrent appends queue on the head row instead of forking the chain (``(org_id, seq)``
is also unique, the last line of defence).

**Verifying.** :func:`verify` walks an organisation's entries by sequence number,
recomputes every hash and checks every link, the head and the latest checkpoint; it names
the first bad entry and why.

**Checkpoints.** :func:`checkpoint` signs ``{"org", "seq", "hash", "signed_at"}`` with an
Ed25519 key kept in a file outside the database (``LEDGER_SIGNING_KEY_FILE``). An auditor
who keeps a checkpoint (and the public key) can later prove the log was not rewritten
wholesale: the entry at that sequence number must still have that hash.
"""
import base64
import hashlib
import os
from pathlib import Path

from flask import current_app, has_app_context
from sqlalchemy import event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db import utcnow, within
from app.extensions import db
from app.ledger import canonical
from app.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerHead

_PENDING = "app.ledger.pending"
VERIFY_PAGE = 2000


# ---------------------------------------------------------------- recording


def actor_label(actor):
    """``(label, id)`` for a user, a string ("system:sweep", "cli") or None."""
    if actor is None:
        return "system", None
    if isinstance(actor, str):
        return actor, None
    email = getattr(actor, "email", "") or ""
    return f"user:{actor.id} {email}".strip(), actor.id


def record(action, *, actor, org_id=None, subject=None, subject_type="", subject_id=None, payload=None):
    """Append an entry when the current transaction commits (dropped if it rolls back).

    ``subject`` may be a model instance with ``id`` (its table name is the type), or give
    ``subject_type`` and ``subject_id``. ``payload`` is made canonical now (datetimes as
    UTC text), so later changes to the objects it came from do not alter it.
    """
    session = db.session()
    if not session.in_transaction():
        raise RuntimeError("ledger.record must be called inside a write transaction")
    if subject is not None:
        subject_type = getattr(subject, "__tablename__", type(subject).__name__.lower())
        subject_id = subject.id
        if org_id is None:
            org_id = getattr(subject, "org_id", None)
    if org_id is None:
        org_id = getattr(actor, "org_id", None)
    if org_id is None:
        raise ValueError("ledger.record needs an organisation")
    label, actor_id = actor_label(actor)
    text = canonical.dumps(canonical.jsonable(payload or {}))
    owner = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((owner, {
        "org_id": org_id, "actor": label[:320], "actor_id": actor_id, "action": action,
        "subject_type": subject_type or "", "subject_id": subject_id, "payload": text,
    }))


def _lock_head(session, org_id):
    """The organisation's head row, locked for this transaction (created on first use)."""
    dialect = session.get_bind().dialect.name
    values = {"org_id": org_id, "seq": 0, "hash": canonical.GENESIS, "updated_at": utcnow()}
    if dialect == "postgresql":
        stmt = postgresql.insert(LedgerHead.__table__).values(**values).on_conflict_do_nothing(
            index_elements=["org_id"])
    else:
        stmt = sqlite.insert(LedgerHead.__table__).values(**values).on_conflict_do_nothing(
            index_elements=["org_id"])
    head = session.execute(
        select(LedgerHead).where(LedgerHead.org_id == org_id).with_for_update()
        .execution_options(all_orgs=True, populate_existing=True)
    ).scalar_one_or_none()
    if head is None:
        session.execute(stmt, execution_options={"all_orgs": True})
        head = session.execute(
            select(LedgerHead).where(LedgerHead.org_id == org_id).with_for_update()
            .execution_options(all_orgs=True, populate_existing=True)
        ).scalar_one()
    return head


@event.listens_for(Session, "before_commit")
def _append_pending(session):
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()
    by_org = {}
    for _owner, entry in pending:
        by_org.setdefault(entry["org_id"], []).append(entry)
    now = utcnow()
    for org_id in sorted(by_org):  # a fixed order: two transactions never wait on each other
        head = _lock_head(session, org_id)
        seq, prev = head.seq, head.hash
        for entry in by_org[org_id]:
            seq += 1
            body = canonical.entry_body(
                org_id=org_id, seq=seq, at=now, actor=entry["actor"], actor_id=entry["actor_id"],
                action=entry["action"], subject_type=entry["subject_type"],
                subject_id=entry["subject_id"], payload_text=entry["payload"],
            )
            digest = canonical.entry_hash(prev, body)
            session.add(LedgerEntry(
                org_id=org_id, seq=seq, at=now, actor=entry["actor"], actor_id=entry["actor_id"],
                action=entry["action"], subject_type=entry["subject_type"], subject_id=entry["subject_id"],
                payload=entry["payload"], prev_hash=prev, hash=digest,
            ))
            prev = digest
        head.seq, head.hash, head.updated_at = seq, prev, now
    session.flush()


@event.listens_for(Session, "after_soft_rollback")
def _after_soft_rollback(session, previous_transaction):
    pending = session.info.get(_PENDING)
    if not pending:
        return
    session.info[_PENDING] = [(o, e) for o, e in pending if not within(o, previous_transaction)]


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session, transaction):
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_PENDING, None)



# ---------------------------------------------------------------- reading


def entries(*, org_id, subject_type=None, subject_id=None, after_seq=0, limit=200):
    """Entries of one organisation by sequence number (optionally of one subject)."""
    stmt = select(LedgerEntry).where(LedgerEntry.org_id == org_id, LedgerEntry.seq > after_seq)
    if subject_type is not None:
        stmt = stmt.where(LedgerEntry.subject_type == subject_type)
    if subject_id is not None:
        stmt = stmt.where(LedgerEntry.subject_id == subject_id)
    return list(db.session.execute(
        stmt.order_by(LedgerEntry.seq).limit(limit).execution_options(all_orgs=True)).scalars())


def head(org_id):
    """``(seq, hash)`` of the organisation's chain head (``(0, GENESIS)`` when empty)."""
    row = db.session.execute(
        select(LedgerHead.seq, LedgerHead.hash).where(LedgerHead.org_id == org_id)
        .execution_options(all_orgs=True)).first()
    return (row.seq, row.hash) if row else (0, canonical.GENESIS)


def entry_problem(entry, expected_seq, prev_hash):
    """Why ``entry`` does not belong at ``expected_seq`` after ``prev_hash``, or None."""
    if entry.seq != expected_seq:
        if entry.seq > expected_seq:
            return f"sequence jumps from {expected_seq - 1} to {entry.seq}: entries missing (deleted)"
        return f"sequence number {entry.seq} repeated or out of order (inserted or reordered)"
    if entry.prev_hash != prev_hash:
        return "prev_hash does not match the previous entry's hash (deleted, inserted or reordered)"
    body = canonical.entry_body(
        org_id=entry.org_id, seq=entry.seq, at=entry.at, actor=entry.actor, actor_id=entry.actor_id,
        action=entry.action, subject_type=entry.subject_type, subject_id=entry.subject_id,
        payload_text=entry.payload,
    )
    if canonical.entry_hash(entry.prev_hash, body) != entry.hash:
        return "hash does not match the entry's contents (edited)"
    return None


def verify(org_id, *, page=VERIFY_PAGE):
    """Check one organisation's chain: ``{"ok", "entries", "first_bad", "head", "checkpoint"}``.

    ``first_bad`` is ``{"seq", "id", "problem"}`` of the first entry that breaks the chain,
    or None. Entries are read by ``id`` (insertion order), so a row whose ``seq`` was
    swapped or inserted is seen where it sits.

    The entries, the head and the checkpoint are read in ONE snapshot (a REPEATABLE READ
    transaction on PostgreSQL; SQLite's read transaction is one already), so appends that
    commit while it runs are not mistaken for a head that ran ahead of its chain.
    """
    session = db.session()
    session.rollback()  # whatever was open: the reads below start a fresh snapshot
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    try:
        return _verify(org_id, page)
    finally:
        session.rollback()


def _verify(org_id, page):
    count, expected, prev, last_id = 0, 1, canonical.GENESIS, 0
    first_bad = None
    hashes_at = {}
    checkpoint_row = latest_checkpoint(org_id)
    while first_bad is None:
        rows = db.session.execute(
            select(LedgerEntry.id, LedgerEntry.org_id, LedgerEntry.seq, LedgerEntry.at, LedgerEntry.actor,
                   LedgerEntry.actor_id, LedgerEntry.action, LedgerEntry.subject_type, LedgerEntry.subject_id,
                   LedgerEntry.payload, LedgerEntry.prev_hash, LedgerEntry.hash)
            .where(LedgerEntry.org_id == org_id, LedgerEntry.id > last_id)
            .order_by(LedgerEntry.id).limit(page).execution_options(all_orgs=True)
        ).all()
        if not rows:
            break
        for row in rows:
            count += 1
            problem = entry_problem(row, expected, prev)
            if problem:
                first_bad = {"seq": row.seq, "id": row.id, "problem": problem}
                break
            if checkpoint_row is not None and row.seq == checkpoint_row.seq:
                hashes_at[row.seq] = row.hash
            prev, expected = row.hash, expected + 1
        last_id = rows[-1].id
    head_seq, head_hash = head(org_id)
    if first_bad is None and (head_seq != expected - 1 or head_hash != prev):
        # The first entry the head does not account for: a missing one, or one beyond the head.
        first_bad = {"seq": min(expected, head_seq + 1), "id": None,

                     "problem": f"the chain ends at {expected - 1} but its head says {head_seq}: "
                                "entries removed at the end, or the head was changed"}
    checkpoint_result = None
    if checkpoint_row is not None:
        checkpoint_result = {"seq": checkpoint_row.seq, "hash": checkpoint_row.hash,
                             "signed_at": canonical.timestamp(checkpoint_row.signed_at),
                             "signature_ok": signature_ok(checkpoint_row),
                             "matches": hashes_at.get(checkpoint_row.seq) == checkpoint_row.hash}
        if first_bad is None and not (checkpoint_result["signature_ok"] and checkpoint_result["matches"]):
            first_bad = {"seq": checkpoint_row.seq, "id": None,
                         "problem": "the chain does not match the latest signed checkpoint (rewritten)"}
    return {"ok": first_bad is None, "entries": count, "first_bad": first_bad,
            "head": {"seq": head_seq, "hash": head_hash}, "checkpoint": checkpoint_result}


# ---------------------------------------------------------------- checkpoints


def key_file():
    configured = current_app.config.get("LEDGER_SIGNING_KEY_FILE") if has_app_context() else None
    if configured:
        return Path(configured)
    return Path(current_app.instance_path) / "ledger-signing-key.pem"


def signing_key(*, create=True):
    """The Ed25519 private key from the key file (created, mode 0600, on first use)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = key_file()
    if path.exists():
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not create:
        raise FileNotFoundError(path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


def public_key_pem(key=None):
    from cryptography.hazmat.primitives import serialization

    key = key or signing_key()
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def key_id(key=None):
    from cryptography.hazmat.primitives import serialization

    key = key or signing_key()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def checkpoint(org_id, *, actor="system:checkpoint"):
    """Sign the organisation's current chain head and keep the checkpoint; returns it.

    ``actor`` (a user or a label) is who asked, for the ledger entry that records it."""
    from app.db import transaction

    key = signing_key()
    seq, digest = head(org_id)
    now = utcnow()
    statement = canonical.dumps({"org": org_id, "seq": seq, "hash": digest, "signed_at": canonical.timestamp(now)})
    signature = base64.b64encode(key.sign(statement.encode("utf-8"))).decode("ascii")
    with transaction() as s:
        row = LedgerCheckpoint(org_id=org_id, seq=seq, hash=digest, signed_at=now, key_id=key_id(key),
                               statement=statement, signature=signature)
        s.add(row)
        record("ledger_checkpoint", actor=actor, org_id=org_id,

               payload={"seq": seq, "hash": digest, "key_id": row.key_id})
    return row


def latest_checkpoint(org_id):
    return db.session.execute(
        select(LedgerCheckpoint).where(LedgerCheckpoint.org_id == org_id)
        .order_by(LedgerCheckpoint.seq.desc(), LedgerCheckpoint.id.desc()).limit(1)
        .execution_options(all_orgs=True)).scalar_one_or_none()


def checkpoint_document(row):
    """What an auditor keeps: the signed statement, the signature and the public key."""
    return {"org": row.org_id, "seq": row.seq, "hash": row.hash, "signed_at": canonical.timestamp(row.signed_at),
            "algorithm": row.algorithm, "key_id": row.key_id, "statement": row.statement,
            "signature": row.signature, "public_key": public_key_pem()}


def signature_ok(row_or_doc, public_pem=None):
    """True when the signature over the statement verifies (with ``public_pem`` or our key)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization

    statement = row_or_doc["statement"] if isinstance(row_or_doc, dict) else row_or_doc.statement
    signature = row_or_doc["signature"] if isinstance(row_or_doc, dict) else row_or_doc.signature
    try:
        if public_pem:
            public = serialization.load_pem_public_key(public_pem.encode("ascii"))
        else:
            public = signing_key(create=False).public_key()
        public.verify(base64.b64decode(signature), statement.encode("utf-8"))
        return True
    except (InvalidSignature, ValueError, FileNotFoundError):
        return False


def verify_against(org_id, document):
    """Check a checkpoint an auditor kept: signature valid, statement as stated, and the entry
    at its sequence number still has its hash. Returns ``{"ok", "problem"}``."""
    import json

    if not signature_ok(document, document.get("public_key")):
        return {"ok": False, "problem": "the checkpoint's signature does not verify"}
    stated = json.loads(document["statement"])
    if stated.get("org") != org_id:
        return {"ok": False, "problem": "the checkpoint is another organisation's"}
    if stated["seq"] == 0:
        return {"ok": True, "problem": None}
    row = db.session.execute(
        select(LedgerEntry.hash).where(LedgerEntry.org_id == org_id, LedgerEntry.seq == stated["seq"])
        .execution_options(all_orgs=True)).first()
    if row is None:
        return {"ok": False, "problem": f"entry {stated['seq']} of the checkpoint is gone"}
    if row.hash != stated["hash"]:
        return {"ok": False, "problem": f"entry {stated['seq']} no longer has the checkpoint's hash (rewritten)"}
    return {"ok": True, "problem": None}


def count(org_id):
    return db.session.execute(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.org_id == org_id)
                              .execution_options(all_orgs=True)).scalar_one()
