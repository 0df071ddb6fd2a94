"""Marshmallow schemas of incidents: input checks and per-audience views.

A reporter sees the facts they filed and where the incident stands; staff
(responder, lead, executive, admin) see every fact plus who reported it (unless
the filing is confidential: then only admins do), who is assigned and when it
last changed. Deeper checks (``occurred_at`` <= ``aware_at`` <= now, an AI
system of the caller's organisation) belong to the service.
"""
from contextvars import ContextVar
from functools import lru_cache

from marshmallow import Schema, fields, post_dump, validate

from app.db import ID_MAX
from app.incidents import service as incidents
from app.incidents import vocab
from app.orgs.schemas import AwareDateTime, StrictBool, UserBriefSchema, UserRefSchema, UTCDateTime

LIST_MAX = 50  # items in a list fact (the vocabularies are smaller; duplicates are merged)


def _codes(allowed, **kw):
    return fields.List(
        fields.Str(validate=validate.OneOf(list(allowed))),
        validate=validate.Length(max=LIST_MAX),
        metadata={"description": "Codes: " + ", ".join(allowed)},
        **kw,
    )


def _choice(allowed, **kw):
    return fields.Str(validate=validate.OneOf(list(allowed)), **kw)


# ---------------------------------------------------------------- input


class IncidentFactsSchema(Schema):
    """The facts of an incident, all optional (the base of filing and editing)."""

    title = fields.Str(validate=validate.Length(min=1, max=vocab.TITLE_MAX))
    description = fields.Str(validate=validate.Length(min=1, max=vocab.DESCRIPTION_MAX))
    kind = _choice(vocab.KINDS, metadata={"description": "incident (harm occurred), hazard or near_miss"})
    severity = _choice(vocab.SEVERITIES, metadata={"description": "sev1 (most severe) .. sev4"})
    occurred_at = AwareDateTime()
    aware_at = AwareDateTime(metadata={"description": "When the organisation became aware (ISO 8601 with offset)"})
    ai_system_id = fields.Int(strict=True, allow_none=True, validate=validate.Range(0, ID_MAX))
    harm_types = _codes(vocab.HARM_TYPES)
    harmed_parties = _codes(vocab.HARMED_PARTIES)
    harmed_count = fields.Int(strict=True, allow_none=True, validate=validate.Range(0, vocab.MAX_HARMED))
    sector = _choice(vocab.SECTORS, allow_none=True)
    principles = _codes(vocab.PRINCIPLES)
    jurisdictions = _codes(vocab.JURISDICTIONS)
    personal_data = StrictBool()
    deaths = fields.Int(strict=True, validate=validate.Range(0, vocab.MAX_DEATHS))
    critical_infrastructure = StrictBool()
    widespread_infringement = StrictBool()
    serious_incident = StrictBool()
    wrongful_purpose = StrictBool()
    confidential = StrictBool(metadata={"description": "Hide the reporter's identity from everyone but admins"})


class IncidentCreateSchema(IncidentFactsSchema):
    """A new incident: title, description, severity, occurred_at and aware_at are required."""

    title = fields.Str(required=True, validate=validate.Length(min=1, max=vocab.TITLE_MAX))
    description = fields.Str(required=True, validate=validate.Length(min=1, max=vocab.DESCRIPTION_MAX))
    severity = _choice(vocab.SEVERITIES, required=True, metadata={"description": "sev1 (most severe) .. sev4"})
    occurred_at = AwareDateTime(required=True)
    aware_at = AwareDateTime(
        required=True, metadata={"description": "When the organisation became aware (ISO 8601 with offset)"}
    )


class IncidentUpdateSchema(IncidentFactsSchema):
    """An edit of an incident's facts, with the ``version`` the caller read."""

    version = fields.Int(required=True, strict=True, validate=validate.Range(min=1))


class IncidentListQuerySchema(Schema):
    """Filters and keyset pagination of the incident list."""

    state = fields.Str(validate=validate.Length(min=1, max=64))
    severity = _choice(vocab.SEVERITIES)
    kind = _choice(vocab.KINDS)
    ai_system_id = fields.Int(validate=validate.Range(0, ID_MAX))
    jurisdiction = _choice(vocab.JURISDICTIONS)
    harm_type = _choice(vocab.HARM_TYPES)
    principle = _choice(vocab.PRINCIPLES)
    q = fields.Str(validate=validate.Length(min=1, max=200), metadata={"description": "Full text over title, description and timeline comments; every space-separated term must occur"})
    mine = fields.Bool(metadata={"description": "Only incidents I reported or am assigned to"})
    limit = fields.Int(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.Str(validate=validate.Length(min=1, max=100), metadata={"description": "next_cursor of the previous page"})


# ---------------------------------------------------------------- output


class AISystemRefSchema(Schema):
    """The AI system an incident involves."""

    id = fields.Int(dump_only=True)
    name = fields.Str(dump_only=True)


class DeadlineSchema(Schema):
    """A deadline the incident carries: regulatory, the organisation's own, or a state's response target."""

    rule = fields.Str(dump_only=True, metadata={"description": "Rule id, e.g. appi-preliminary; target:<state>"})
    kind = fields.Str(dump_only=True, metadata={"enum": ["regulatory", "internal", "state_target"]})
    label = fields.Method("_label", dump_only=True, metadata={"description": "{en, ja}"})
    due_at = UTCDateTime(dump_only=True)
    source = fields.Str(dump_only=True, metadata={"description": "The law or guideline the rule comes from"})
    period = fields.Str(dump_only=True, metadata={
        "description": "How the period was counted: '3d Asia/Tokyo' (calendar days ending 24:00 local), '72h'"})
    met_at = UTCDateTime(dump_only=True, allow_none=True)
    met_by = fields.Str(dump_only=True, allow_none=True, metadata={"description": "The transition that met it"})

    def _label(self, deadline):
        from app.incidents import deadlines

        return deadlines.label_of(deadline)


class IncidentReporterViewSchema(Schema):
    """An incident as a reporter sees it (their own filings)."""

    id = fields.Int(dump_only=True)
    ref = fields.Str(dump_only=True, metadata={"description": "The reference people quote, e.g. AI-0042"})
    title = fields.Str(dump_only=True)
    description = fields.Str(dump_only=True)
    kind = fields.Str(dump_only=True, metadata={"enum": list(vocab.KINDS)})
    severity = fields.Str(dump_only=True, metadata={"enum": list(vocab.SEVERITIES)})
    occurred_at = UTCDateTime(dump_only=True)
    aware_at = UTCDateTime(dump_only=True)
    ai_system = fields.Nested(AISystemRefSchema, dump_only=True, allow_none=True)
    jurisdictions = fields.List(fields.Str(), dump_only=True)
    harm_types = fields.List(fields.Str(), dump_only=True)
    workflow = fields.Str(dump_only=True)
    state = fields.Str(dump_only=True)
    version = fields.Int(dump_only=True, metadata={"description": "Send it back with an edit (optimistic concurrency)"})
    deadlines = fields.List(fields.Nested(DeadlineSchema), dump_only=True)
    created_at = UTCDateTime(dump_only=True)


class IncidentStaffViewSchema(IncidentReporterViewSchema):
    """An incident as staff see it: every fact, the reporter (unless hidden), the assignee."""

    harmed_parties = fields.List(fields.Str(), dump_only=True)
    harmed_count = fields.Int(dump_only=True, allow_none=True)
    sector = fields.Str(dump_only=True, allow_none=True)
    principles = fields.List(fields.Str(), dump_only=True)
    personal_data = fields.Bool(dump_only=True)
    deaths = fields.Int(dump_only=True)
    critical_infrastructure = fields.Bool(dump_only=True)
    widespread_infringement = fields.Bool(dump_only=True)
    serious_incident = fields.Bool(dump_only=True)
    wrongful_purpose = fields.Bool(dump_only=True)
    confidential = fields.Bool(dump_only=True)
    reporter = fields.Nested(
        UserRefSchema, dump_only=True, allow_none=True,
        metadata={"description": "null when the filing is confidential and the caller is not an admin"},
    )
    assignee = fields.Nested(UserRefSchema, dump_only=True, allow_none=True)
    acknowledged_at = UTCDateTime(dump_only=True, allow_none=True)
    resolved_at = UTCDateTime(dump_only=True, allow_none=True)
    updated_at = UTCDateTime(dump_only=True)

    def __init__(self, *, viewer=None, **kwargs):
        super().__init__(**kwargs)
        self.viewer = viewer

    @post_dump(pass_original=True)
    def _hide_reporter(self, data, original, **kwargs):
        viewer = self.viewer or _DUMP_VIEWER.get()
        # Fail closed: without a viewer nobody is shown as the reporter.
        if viewer is None or not incidents.can_see_reporter(viewer=viewer, incident=original):
            data["reporter"] = None
        return data


class IncidentPageSchema(Schema):
    """One page of the incident list."""

    items = fields.List(
        fields.Nested(IncidentStaffViewSchema), dump_only=True,
        metadata={"description": "Newest first; reporters get the reporter view of each item"},
    )
    next_cursor = fields.Str(dump_only=True, allow_none=True, metadata={"description": "null on the last page"})


class TimelineEventSchema(Schema):
    """Something that happened to an incident."""

    id = fields.Int(dump_only=True)
    at = UTCDateTime(dump_only=True)
    action = fields.Str(dump_only=True, metadata={"description": "filed, edited, ..."})
    actor = fields.Nested(UserBriefSchema, dump_only=True, allow_none=True)
    from_state = fields.Str(dump_only=True, allow_none=True)
    to_state = fields.Str(dump_only=True, allow_none=True)
    comment = fields.Str(dump_only=True)
    data = fields.Dict(dump_only=True)

    def __init__(self, *, viewer=None, incident=None, **kwargs):
        super().__init__(**kwargs)
        self.viewer = viewer
        self.incident = incident

    @post_dump
    def _hide_confidential_reporter(self, data, **kwargs):
        # The 'filed' event's actor is the reporter: a confidential filing hides it.
        if data.get("action") == "filed" and (
            self.viewer is None or self.incident is None
            or not incidents.can_see_reporter(viewer=self.viewer, incident=self.incident)
        ):
            data["actor"] = None
        return data


class TimelineSchema(Schema):
    """An incident's timeline, oldest first."""

    items = fields.List(fields.Nested(TimelineEventSchema), dump_only=True)


def is_staff(viewer):
    """True when the viewer gets the staff view of incidents."""
    return viewer.role in incidents.STAFF_ROLES


# The viewer of the dump in progress, for shared (cached) schema instances.
_DUMP_VIEWER = ContextVar("incident_dump_viewer", default=None)


@lru_cache(maxsize=None)
def _shared(schema_class, many):
    # Building a marshmallow schema deep-copies its fields: reuse one instance per view.
    return schema_class(many=many)


class _ViewerDump:
    """A shared schema instance bound to one viewer for the length of a dump."""

    def __init__(self, schema, viewer):
        self._schema, self._viewer = schema, viewer

    def dump(self, obj):
        token = _DUMP_VIEWER.set(self._viewer)
        try:
            return self._schema.dump(obj)
        finally:
            _DUMP_VIEWER.reset(token)


def incident_schema(viewer, *, many=False):
    """The schema of the view ``viewer`` gets of incidents."""
    if is_staff(viewer):
        return _ViewerDump(_shared(IncidentStaffViewSchema, many), viewer)
    return _shared(IncidentReporterViewSchema, many)
