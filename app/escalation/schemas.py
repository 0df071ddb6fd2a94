"""JSON views of escalations, their deliveries and in-app notifications."""
from marshmallow import Schema, fields

from app.orgs.schemas import UserRefSchema, UTCDateTime


class RecipientSchema(Schema):
    type = fields.Str(metadata={"description": "user, email or authority"})
    id = fields.Int(allow_none=True)
    name = fields.Raw(allow_none=True, metadata={"description": "A person's name, or {en, ja} for an authority"})
    email = fields.Str(allow_none=True)
    rule = fields.Str(allow_none=True)


class DeliverySchema(Schema):
    id = fields.Int()
    channel = fields.Str(metadata={"description": "in_app, email or webhook"})
    recipient = fields.Str()
    round = fields.Int(metadata={"description": "0 for the first notification, n for the nth reminder"})
    status = fields.Str(metadata={"description": "pending, sent or failed (gave up)"})
    attempts = fields.Int()
    last_error = fields.Str()
    next_attempt_at = UTCDateTime(allow_none=True)
    sent_at = UTCDateTime(allow_none=True)


class EscalationSchema(Schema):
    id = fields.Int()
    incident_id = fields.Int()
    policy = fields.Str()
    level = fields.Int()
    trigger = fields.Str()
    occurrence = fields.Int()
    reason = fields.Str(metadata={"description": "filed_severity, state_target_passed, deadline_progress, "
                                                 "deadline_overdue or not_acknowledged"})
    rule = fields.Str(allow_none=True, metadata={"description": "The deadline rule or state target, if any"})
    external = fields.Bool()
    recipients = fields.List(fields.Nested(RecipientSchema))
    detail = fields.Dict()
    created_at = UTCDateTime()
    acknowledged_at = UTCDateTime(allow_none=True)
    acknowledged_by = fields.Nested(UserRefSchema, allow_none=True)
    repeats = fields.Int()
    deliveries = fields.List(fields.Nested(DeliverySchema))


class EscalationListSchema(Schema):
    items = fields.List(fields.Nested(EscalationSchema))


class NotificationSchema(Schema):
    id = fields.Int()
    escalation_id = fields.Int()
    incident_id = fields.Int()
    incident_ref = fields.Str()
    level = fields.Int()
    reason = fields.Str()
    round = fields.Int()
    created_at = UTCDateTime()
    read_at = UTCDateTime(allow_none=True)


class NotificationListSchema(Schema):
    items = fields.List(fields.Nested(NotificationSchema))
    unread = fields.Int()


class SweepResultSchema(Schema):
    fired = fields.Int()
    recorded = fields.Int()
    requeued = fields.Int()
