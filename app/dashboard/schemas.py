"""Marshmallow schemas of the metrics API: the period query and the figures (for the OpenAPI document)."""
from marshmallow import Schema, fields, validate

from app.dashboard import service as dashboard


class MetricsQuerySchema(Schema):
    """The period: ``since``/``until`` (inclusive dates in the organisation's zone) or ``days``."""

    since = fields.Date(metadata={"description": "First day of the period (YYYY-MM-DD, organisation's time zone)"})
    until = fields.Date(metadata={"description": "Last day of the period (default today)"})
    days = fields.Int(validate=validate.Range(1, dashboard.MAX_DAYS),
                      metadata={"description": f"Length of the period ending today (default {dashboard.DEFAULT_DAYS})"})


class FilterField(fields.Dict):
    """The query of GET /incidents (and /api/v1/incidents) that lists the incidents behind a figure."""

    def __init__(self, **kwargs):
        super().__init__(keys=fields.Str(), values=fields.Str(), dump_only=True, **kwargs)


class DeadlineItemSchema(Schema):
    """An unmet deadline of an open incident."""

    incident_id = fields.Int()
    ref = fields.Str()
    title = fields.Str()
    severity = fields.Str()
    rule = fields.Str()
    kind = fields.Str()
    due_at = fields.Str(metadata={"description": "ISO 8601, UTC"})


class DeadlineFigureSchema(Schema):
    """How many, the nearest ten, and the filter behind them."""

    count = fields.Int()
    items = fields.List(fields.Nested(DeadlineItemSchema))
    filter = FilterField()


class WeekSchema(Schema):
    """One ISO week (organisation's time zone) of the trends."""

    week_start = fields.Str(metadata={"description": "Monday, YYYY-MM-DD"})
    iso_week = fields.Str()
    count = fields.Int(metadata={"description": "Incidents filed in the week"})
    acknowledged = fields.Int()
    resolved = fields.Int()
    mtta_seconds = fields.Float(allow_none=True)
    mttr_seconds = fields.Float(allow_none=True)
    filter = FilterField()


class BreakdownSchema(Schema):
    """Incidents filed in the period with one value of a dimension."""

    key = fields.Str()
    name = fields.Str(allow_none=True, metadata={"description": "AI system name (by_ai_system only)"})
    actor_role = fields.Str(metadata={"description": "by_ai_system only"})
    count = fields.Int()
    filter = FilterField()


class ComplianceSchema(Schema):
    """Response targets (state_target deadlines) due in the period."""

    met_on_time = fields.Int()
    met_late = fields.Int()
    overdue = fields.Int()
    total = fields.Int()
    percent_on_time = fields.Float(allow_none=True)
    filters = fields.Dict(keys=fields.Str(), values=FilterField())


class MinistryRequestItemSchema(Schema):
    """An open ministry request."""

    id = fields.Int()
    ministry = fields.Str()
    kind = fields.Str()
    reference = fields.Str()
    received_at = fields.Str()
    due_at = fields.Str(allow_none=True)


class MinistryRequestsFigureSchema(Schema):
    """Open ministry requests: how many and the newest ten."""

    count = fields.Int()
    items = fields.List(fields.Nested(MinistryRequestItemSchema))


class MetricsSchema(Schema):
    """The dashboard's figures for the caller's organisation and the period."""

    period = fields.Dict(metadata={"description": "since, until, days, timezone, start, end (UTC)"})
    generated_at = fields.Str()
    open_total = fields.Int()
    open_by_severity = fields.Dict(keys=fields.Str(), values=fields.Int())
    open_by_severity_filters = fields.Dict(keys=fields.Str(), values=FilterField())
    open_by_state = fields.Dict(keys=fields.Str(), values=fields.Int())
    open_by_state_labels = fields.Dict(keys=fields.Str(), values=fields.Dict(),
                                       metadata={"description": "state -> {en, ja}"})
    open_by_state_filters = fields.Dict(keys=fields.Str(), values=FilterField())
    overdue_deadlines = fields.Nested(DeadlineFigureSchema)
    due_next_7_days = fields.Nested(DeadlineFigureSchema)
    mtta_seconds = fields.Float(allow_none=True, metadata={"description": "Mean filing-to-acknowledgement time of "
                                                                         "incidents acknowledged in the period"})
    acknowledged_count = fields.Int()
    mtta_filter = FilterField()
    mttr_seconds = fields.Float(allow_none=True, metadata={"description": "Mean filing-to-resolution time of "
                                                                         "incidents resolved in the period"})
    resolved_count = fields.Int()
    mttr_filter = FilterField()
    trends = fields.List(fields.Nested(WeekSchema))
    filed_total = fields.Int()
    filed_filter = FilterField()
    filed_by_severity = fields.Dict(keys=fields.Str(), values=fields.Int())
    by_ai_system = fields.List(fields.Nested(BreakdownSchema))
    by_actor_role = fields.List(fields.Nested(BreakdownSchema))
    by_harm_type = fields.List(fields.Nested(BreakdownSchema))
    by_principle = fields.List(fields.Nested(BreakdownSchema))
    by_jurisdiction = fields.List(fields.Nested(BreakdownSchema))
    response_targets = fields.Nested(ComplianceSchema)
    escalations_by_level = fields.Dict(keys=fields.Str(), values=fields.Int(),
                                       metadata={"description": "Escalations recorded in the period by level: {\"1\": n, ...}"})
    ministry_requests = fields.Nested(MinistryRequestsFigureSchema)
