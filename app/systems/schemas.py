"""Marshmallow schemas of the AI system inventory: input checks and the API's view."""
from marshmallow import Schema, fields, validate

from app.db import ID_MAX
from app.orgs.schemas import StrictBool, UserBriefSchema, UTCDateTime
from app.systems.models import ACTOR_ROLES, RISK_LEVELS, STATUSES
from app.systems.service import TEXT_LIMITS


def _text(key, **kw):
    return fields.Str(validate=validate.Length(max=TEXT_LIMITS[key]), **kw)


class AISystemUpdateSchema(Schema):
    """Facts of an AI system that may be changed (all optional)."""

    name = fields.Str(validate=validate.Length(min=1, max=TEXT_LIMITS["name"]))
    purpose = _text("purpose")
    actor_role = fields.Str(
        validate=validate.OneOf(ACTOR_ROLES),
        metadata={"description": "Role under Japan's AI Guidelines for Business"},
    )
    developer = _text("developer", metadata={"description": "Developer or vendor"})
    model_name = _text("model_name")
    model_version = _text("model_version")
    training_sources = _text("training_sources")
    deployment_context = _text("deployment_context")
    risk_level = fields.Str(validate=validate.OneOf(RISK_LEVELS))
    eu_high_risk = StrictBool(metadata={"description": "High-risk under the EU AI Act"})
    status = fields.Str(validate=validate.OneOf(STATUSES))
    owner_id = fields.Int(strict=True, allow_none=True, validate=validate.Range(0, ID_MAX), metadata={"description": "A user of the organisation"})


class AISystemCreateSchema(AISystemUpdateSchema):
    """A new AI system: ``name`` is required."""

    name = fields.Str(required=True, validate=validate.Length(min=1, max=TEXT_LIMITS["name"]))


class AISystemSchema(Schema):
    """An AI system as the API shows it."""

    id = fields.Int(dump_only=True)
    name = fields.Str(dump_only=True)
    purpose = fields.Str(dump_only=True)
    actor_role = fields.Str(dump_only=True, metadata={"enum": list(ACTOR_ROLES)})
    developer = fields.Str(dump_only=True)
    model_name = fields.Str(dump_only=True)
    model_version = fields.Str(dump_only=True)
    training_sources = fields.Str(dump_only=True)
    deployment_context = fields.Str(dump_only=True)
    risk_level = fields.Str(dump_only=True, metadata={"enum": list(RISK_LEVELS)})
    eu_high_risk = fields.Bool(dump_only=True)
    status = fields.Str(dump_only=True, metadata={"enum": list(STATUSES)})
    owner = fields.Nested(UserBriefSchema, dump_only=True, allow_none=True)
    created_at = UTCDateTime(dump_only=True)
    updated_at = UTCDateTime(dump_only=True)


class AISystemListQuerySchema(Schema):
    """Filters of the AI system list."""

    status = fields.Str(validate=validate.OneOf(STATUSES))
    actor_role = fields.Str(validate=validate.OneOf(ACTOR_ROLES))
    risk_level = fields.Str(validate=validate.OneOf(RISK_LEVELS))


class AISystemListSchema(Schema):
    """The AI system inventory."""

    items = fields.List(fields.Nested(AISystemSchema), dump_only=True)
