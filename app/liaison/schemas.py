"""Marshmallow schemas of ministry requests as the API reads and shows them."""
from marshmallow import Schema, fields, validate

from app.db import ID_MAX
from app.liaison import vocab
from app.orgs.schemas import AwareDateTime, UTCDateTime

_MINISTRY_HELP = ("A ministry code (" + ", ".join(vocab.MINISTRIES) + ") or a name; "
                  "'other' needs ministry_other")


class MinistryRequestCreateSchema(Schema):
    """A new ministry request, corrective notice, guidance or report collection."""

    ministry = fields.Str(required=True, validate=validate.Length(min=1, max=vocab.MINISTRY_MAX),
                          metadata={"description": _MINISTRY_HELP})
    ministry_other = fields.Str(validate=validate.Length(max=vocab.MINISTRY_MAX))
    kind = fields.Str(validate=validate.OneOf(list(vocab.KINDS)))
    reference = fields.Str(validate=validate.Length(max=vocab.REFERENCE_MAX))
    received_at = AwareDateTime(required=True)
    requested_actions = fields.Str(validate=validate.Length(max=vocab.ACTIONS_MAX))
    due_at = AwareDateTime(allow_none=True)
    status = fields.Str(validate=validate.OneOf(list(vocab.STATUSES)))


class MinistryRequestUpdateSchema(MinistryRequestCreateSchema):
    """An edit of a request (any field; typically ``status``)."""

    ministry = fields.Str(validate=validate.Length(min=1, max=vocab.MINISTRY_MAX),
                          metadata={"description": _MINISTRY_HELP})
    received_at = AwareDateTime()


class LinkSchema(Schema):
    """The incident to link a request to."""

    incident_id = fields.Int(required=True, strict=True, validate=validate.Range(0, ID_MAX))


class LinkedIncidentSchema(Schema):
    """An incident a request is linked to."""

    id = fields.Int(dump_only=True)
    ref = fields.Str(dump_only=True)
    title = fields.Str(dump_only=True)
    severity = fields.Str(dump_only=True)
    state = fields.Str(dump_only=True)


class MinistryRequestSchema(Schema):
    """A ministry request as recorded."""

    id = fields.Int(dump_only=True)
    ministry = fields.Str(dump_only=True, metadata={"description": "A ministry code or the name given"})
    ministry_name = fields.Method("_name", dump_only=True, metadata={"type": "object", "description": "{ja, en}"})
    kind = fields.Str(dump_only=True, metadata={"enum": list(vocab.KINDS)})
    reference = fields.Str(dump_only=True)
    received_at = UTCDateTime(dump_only=True)
    requested_actions = fields.Str(dump_only=True)
    due_at = UTCDateTime(dump_only=True, allow_none=True)
    status = fields.Str(dump_only=True, metadata={"enum": list(vocab.STATUSES)})
    created_at = UTCDateTime(dump_only=True)
    updated_at = UTCDateTime(dump_only=True)

    def _name(self, item):
        return {"ja": vocab.ministry_label(item.ministry, "ja"), "en": vocab.ministry_label(item.ministry, "en")}


class MinistryRequestDetailSchema(MinistryRequestSchema):
    """A request with the incidents it is linked to."""

    incidents = fields.List(fields.Nested(LinkedIncidentSchema), dump_only=True)


class MinistryRequestListSchema(Schema):
    """The organisation's requests, newest first."""

    items = fields.List(fields.Nested(MinistryRequestSchema), dump_only=True)
    next_cursor = fields.Str(dump_only=True, allow_none=True)


class MinistryRequestListQuerySchema(Schema):
    """Filter and page the request list."""

    status = fields.Str(validate=validate.OneOf(list(vocab.STATUSES)))
    limit = fields.Int(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.Str(validate=validate.Length(min=1, max=40))
