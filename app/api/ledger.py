"""Ledger API: verify the caller's organisation's chain, read its entries, signed checkpoints."""
from flask import g, url_for

from app.api import bp
from app.api.openapi import COMPONENT_SCHEMAS, doc
from app.api.util import query, require_roles, shared
from app.errors import NotFound
from app.ledger import service as ledger
from app.ledger.schemas import (
    LedgerCheckpointCheckSchema, LedgerCheckpointSchema, LedgerEntriesQuerySchema, LedgerEntryListSchema,
    LedgerEntrySchema, LedgerHeadSchema, LedgerProblemSchema, LedgerVerifySchema,
)

# Nested schemas before the schemas that use them.
COMPONENT_SCHEMAS.setdefault("LedgerProblem", LedgerProblemSchema)
COMPONENT_SCHEMAS.setdefault("LedgerHead", LedgerHeadSchema)
COMPONENT_SCHEMAS.setdefault("LedgerCheckpointCheck", LedgerCheckpointCheckSchema)
COMPONENT_SCHEMAS.setdefault("LedgerVerify", LedgerVerifySchema)
COMPONENT_SCHEMAS.setdefault("LedgerEntry", LedgerEntrySchema)
COMPONENT_SCHEMAS.setdefault("LedgerEntryList", LedgerEntryListSchema)
COMPONENT_SCHEMAS.setdefault("LedgerCheckpoint", LedgerCheckpointSchema)

VERIFIERS = ("lead", "executive", "admin")
READERS = ("executive", "admin")


@bp.get("/ledger/verify")
@doc("Verify the organisation's ledger: every hash, link, the head and the latest checkpoint "
     "(lead, executive, admin)", tag="Ledger", response=LedgerVerifySchema, errors=(401, 403))
@require_roles(*VERIFIERS)
def verify_ledger():
    """``ok`` is false when an entry was edited, deleted, inserted or reordered, or the chain no
    longer matches its latest signed checkpoint; ``first_bad`` names the first broken entry."""
    return shared(LedgerVerifySchema).dump(ledger.verify(g.api_user.org_id))


@bp.get("/ledger/entries")
@doc("The organisation's ledger entries by sequence number (executive, admin)", tag="Ledger",
     query=LedgerEntriesQuerySchema, response=LedgerEntryListSchema, errors=(401, 403, 422))
@require_roles(*READERS)
def list_ledger_entries():
    """Page with ``after_seq`` (the previous page's ``next_after_seq``); filter by subject."""
    args = query(shared(LedgerEntriesQuerySchema))
    limit = args["limit"]
    rows = ledger.entries(org_id=g.api_user.org_id, subject_type=args.get("subject_type"),
                          subject_id=args.get("subject_id"), after_seq=args["after_seq"], limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return shared(LedgerEntryListSchema).dump(
        {"items": rows, "next_after_seq": rows[-1].seq if more else None})


@bp.get("/ledger/checkpoint")
@doc("The latest signed checkpoint, as an auditor keeps it (lead, executive, admin)", tag="Ledger",
     response=LedgerCheckpointSchema, errors=(401, 403, 404))
@require_roles(*VERIFIERS)
def get_ledger_checkpoint():
    """404 when the organisation has no checkpoint yet."""
    row = ledger.latest_checkpoint(g.api_user.org_id)
    if row is None:
        raise NotFound("no checkpoint has been signed yet")
    return shared(LedgerCheckpointSchema).dump(ledger.checkpoint_document(row))


@bp.post("/ledger/checkpoint")
@doc("Sign the chain head now (admin)", tag="Ledger", response=LedgerCheckpointSchema, status=201,
     errors=(401, 403))
@require_roles("admin")
def create_ledger_checkpoint():
    """Signs ``{"org", "seq", "hash", "signed_at"}`` with the server's Ed25519 key."""
    row = ledger.checkpoint(g.api_user.org_id, actor=g.api_user)
    document = ledger.checkpoint_document(row)
    return shared(LedgerCheckpointSchema).dump(document), 201, {"Location": url_for("api.get_ledger_checkpoint")}
