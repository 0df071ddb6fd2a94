"""Marshmallow schemas of the ledger API's answers (and the entries query)."""
import json

from marshmallow import Schema, fields, validate

from app.db import BIGINT_MAX
from app.ledger import canonical

MAX_LIMIT = 500


class LedgerProblemSchema(Schema):
    """The first entry that breaks the chain, and why."""

    seq = fields.Int(required=True, metadata={"description": "Sequence number where the chain breaks"})
    id = fields.Int(allow_none=True, metadata={"description": "Row id of the bad entry (null when it is missing)"})
    problem = fields.Str(required=True, metadata={"description": "What is wrong, in words"})


class LedgerHeadSchema(Schema):
    """The chain head the database records."""

    seq = fields.Int(required=True)
    hash = fields.Str(required=True, metadata={"description": "SHA-256, 64 lowercase hex characters"})


class LedgerCheckpointCheckSchema(Schema):
    """The latest signed checkpoint and whether the chain still matches it."""

    seq = fields.Int(required=True)
    hash = fields.Str(required=True)
    signed_at = fields.Str(required=True, metadata={"description": "UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ"})
    signature_ok = fields.Bool(required=True)
    matches = fields.Bool(required=True, metadata={"description": "The entry at seq still has the signed hash"})


class LedgerVerifySchema(Schema):
    """The verification of the caller's organisation's chain."""

    ok = fields.Bool(required=True)
    entries = fields.Int(required=True, metadata={"description": "How many entries were checked"})
    first_bad = fields.Nested(LedgerProblemSchema, allow_none=True, required=True)
    head = fields.Nested(LedgerHeadSchema, required=True)
    checkpoint = fields.Nested(LedgerCheckpointCheckSchema, allow_none=True, required=True)


class LedgerEntrySchema(Schema):
    """One entry as stored: its hash is SHA-256(prev_hash || canonical entry) (docs/ledger.md)."""

    id = fields.Int(required=True)
    seq = fields.Int(required=True)
    at = fields.Function(lambda entry: canonical.timestamp(entry.at), required=True,
                         metadata={"description": "UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ (as hashed)"})
    actor = fields.Str(required=True)
    actor_id = fields.Int(allow_none=True)
    action = fields.Str(required=True)
    subject_type = fields.Str(required=True)
    subject_id = fields.Int(allow_none=True)
    payload = fields.Function(lambda entry: json.loads(entry.payload), required=True,
                              metadata={"description": "The payload (its canonical JSON text is what is hashed)"})
    prev_hash = fields.Str(required=True)
    hash = fields.Str(required=True)


class LedgerEntryListSchema(Schema):
    """A page of entries by sequence number."""

    items = fields.List(fields.Nested(LedgerEntrySchema), required=True)
    next_after_seq = fields.Int(allow_none=True, required=True,
                                metadata={"description": "Pass as after_seq for the next page (null at the end)"})


class LedgerEntriesQuerySchema(Schema):
    """Cursor and filters of the entries list."""

    after_seq = fields.Int(load_default=0, validate=validate.Range(0, BIGINT_MAX),
                           metadata={"description": "Entries after this sequence number (default 0)"})
    limit = fields.Int(load_default=100, validate=validate.Range(1, MAX_LIMIT),
                       metadata={"description": f"At most {MAX_LIMIT} (default 100)"})
    subject_type = fields.Str(validate=validate.Length(1, 32),
                              metadata={"description": "e.g. incident, ai_system, user_account"})
    subject_id = fields.Int(validate=validate.Range(0, BIGINT_MAX))


class LedgerCheckpointSchema(Schema):
    """A signed checkpoint as an auditor keeps it: verify ``signature`` over ``statement``
    with ``public_key`` (Ed25519)."""

    org = fields.Int(required=True)
    seq = fields.Int(required=True)
    hash = fields.Str(required=True)
    signed_at = fields.Str(required=True)
    algorithm = fields.Str(required=True)
    key_id = fields.Str(required=True)
    statement = fields.Str(required=True, metadata={"description": "The exact text signed (canonical JSON)"})
    signature = fields.Str(required=True, metadata={"description": "Base64"})
    public_key = fields.Str(required=True, metadata={"description": "PEM (SubjectPublicKeyInfo)"})
