"""Marshmallow schemas of the queue API: the query, a page with its counts, assignment bodies."""
from marshmallow import Schema, ValidationError, fields, validate

from app.db import ID_MAX
from app.incidents import vocab
from app.orgs.schemas import UTCDateTime
from app.queues import service as queues


class AssigneeFilter(fields.Str):
    """``me``, ``none``, ``any`` or a user id."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if value in ("me", "none", "any"):
            return value
        # ASCII digits only ("²".isdigit() is true too), and an id a row can have.
        if value.isascii() and value.isdigit() and int(value) <= ID_MAX:
            return int(value)
        raise ValidationError("Must be a user id, me, none or any.")


class QueueQuerySchema(Schema):
    """Filters and keyset pagination of the queue."""

    state = fields.Str(validate=validate.Length(min=1, max=64))
    severity = fields.Str(validate=validate.OneOf(list(vocab.SEVERITIES)))
    assignee = AssigneeFilter(metadata={
        "description": "A user id, me, none (unassigned) or any. Responders get 'me' when it is absent."})
    ai_system_id = fields.Int(validate=validate.Range(0, ID_MAX))
    jurisdiction = fields.Str(validate=validate.OneOf(list(vocab.JURISDICTIONS)))
    overdue = fields.Bool(metadata={"description": "Only incidents whose nearest deadline has passed"})
    due_within_24h = fields.Bool(metadata={"description": "Only incidents due in the next 24 hours (not yet overdue)"})
    limit = fields.Int(load_default=50, validate=validate.Range(1, queues.MAX_LIMIT))
    cursor = fields.Str(validate=validate.Length(min=1, max=200), metadata={"description": "next_cursor of the previous page"})


class QueueAssigneeSchema(Schema):
    """Who works the incident."""

    id = fields.Int(dump_only=True)
    name = fields.Str(dump_only=True)


class QueueItemSchema(Schema):
    """One open incident in the queue."""

    id = fields.Int(dump_only=True)
    ref = fields.Str(dump_only=True)
    title = fields.Str(dump_only=True)
    severity = fields.Str(dump_only=True, metadata={"enum": list(vocab.SEVERITIES)})
    state = fields.Str(dump_only=True)
    version = fields.Int(dump_only=True)
    ai_system_id = fields.Int(dump_only=True, allow_none=True)
    assignee = fields.Method("_assignee", dump_only=True, allow_none=True,
                             metadata={"type": "object", "nullable": True,
                                       "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}})
    due_at = UTCDateTime(dump_only=True, allow_none=True,
                         metadata={"description": "The nearest unmet deadline; null when none"})

    def _assignee(self, item):
        if item.assignee_id is None:
            return None
        return {"id": item.assignee_id, "name": item.assignee_name}


class QueueCountsSchema(Schema):
    """Counts of the queue tabs (open incidents only)."""

    open = fields.Int(dump_only=True)
    mine = fields.Int(dump_only=True)
    unassigned = fields.Int(dump_only=True)
    overdue = fields.Int(dump_only=True)
    due_24h = fields.Int(dump_only=True)
    by_severity = fields.Dict(keys=fields.Str(), values=fields.Int(), dump_only=True)


class QueuePageSchema(Schema):
    """One page of the queue, nearest deadline first, with the tab counts."""

    items = fields.List(fields.Nested(QueueItemSchema), dump_only=True)
    next_cursor = fields.Str(dump_only=True, allow_none=True, metadata={"description": "null on the last page"})
    counts = fields.Nested(QueueCountsSchema, dump_only=True)


class AssignSchema(Schema):
    """Assign an incident: a user id, or null to unassign; ``version`` optional."""

    assignee_id = fields.Int(required=True, strict=True, allow_none=True, validate=validate.Range(0, ID_MAX))
    version = fields.Int(strict=True, validate=validate.Range(1, ID_MAX),
                         metadata={"description": "The version you read: 409 when stale"})


class BulkAssignSchema(Schema):
    """Assign many incidents to one user (or null), all or nothing."""

    incident_ids = fields.List(fields.Int(strict=True, validate=validate.Range(0, ID_MAX)), required=True,
                               validate=validate.Length(min=1, max=queues.BULK_MAX))
    assignee_id = fields.Int(required=True, strict=True, allow_none=True, validate=validate.Range(0, ID_MAX))


class BulkAssignResultSchema(Schema):
    """What a bulk assignment changed."""

    assigned = fields.List(fields.Int(), dump_only=True, metadata={"description": "Incident ids"})
    assignee_id = fields.Int(dump_only=True, allow_none=True)


def dump_items(items):
    """Queue items as ``QueueItemSchema`` dumps them, without marshmallow's per-field machinery.

    A page is 50 rows of plain columns; this is about 1.3 ms faster per page. A test holds it
    equal to ``QueueItemSchema(many=True).dump``.
    """
    return [{
        "id": i.id, "ref": i.ref, "title": i.title, "severity": i.severity, "state": i.state,
        "version": i.version, "ai_system_id": i.ai_system_id,
        "assignee": None if i.assignee_id is None else {"id": i.assignee_id, "name": i.assignee_name},
        "due_at": None if i.due_at is None else i.due_at.isoformat(),
    } for i in items]
