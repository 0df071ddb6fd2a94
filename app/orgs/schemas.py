"""Marshmallow schemas of organisations and people, as the API shows them.

Also home of the field types every domain's schemas share (this module is the
base of the others, so importing it never makes an import circle).
"""
from datetime import timezone

from marshmallow import Schema, fields


class UTCDateTime(fields.DateTime):
    """A datetime shown as ISO 8601 in UTC with its offset (``...+00:00``)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return super()._serialize(value, attr, obj, **kwargs)


def AwareDateTime(**kw):
    """An ISO 8601 datetime input that must carry an offset (naive times are refused)."""
    kw.setdefault("metadata", {}).setdefault("description", "ISO 8601 with an offset, e.g. 2026-04-01T09:30:00+09:00")
    return fields.AwareDateTime(
        format="iso",
        error_messages={"invalid_awareness": "Give a time zone offset (for example +09:00 or Z)."},
        **kw,
    )


class StrictBool(fields.Boolean):
    """A JSON boolean: true or false only (no "yes", 1 or "true")."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class UserBriefSchema(Schema):
    """A person named on a record (timeline actor, AI system owner)."""

    id = fields.Int(dump_only=True)
    name = fields.Str(dump_only=True)


class UserRefSchema(UserBriefSchema):
    """A person with the e-mail address staff use to reach them (reporter, assignee)."""

    email = fields.Str(dump_only=True)


class OrganisationSchema(Schema):
    """The caller's organisation."""

    slug = fields.Str(dump_only=True)
    name = fields.Str(dump_only=True)
    timezone = fields.Str(dump_only=True, metadata={"description": "IANA time zone, e.g. Asia/Tokyo"})


class MeSchema(Schema):
    """The caller of the API (the owner of the bearer token)."""

    id = fields.Int(dump_only=True)
    email = fields.Str(dump_only=True)
    name = fields.Str(dump_only=True)
    role = fields.Str(dump_only=True, metadata={"enum": ["reporter", "responder", "lead", "executive", "admin"]})
    locale = fields.Str(dump_only=True, allow_none=True)
    organisation = fields.Nested(OrganisationSchema, dump_only=True)
