"""Metrics API: the dashboard's figures for the caller's organisation (not for reporters)."""
from flask import g

from app.api import bp
from app.api.openapi import COMPONENT_SCHEMAS, doc
from app.api.util import query, shared
from app.dashboard import service as dashboard
from app.dashboard.schemas import MetricsQuerySchema, MetricsSchema

COMPONENT_SCHEMAS.update({"Metrics": MetricsSchema})


@bp.get("/metrics")
@doc("The dashboard's figures: open incidents, deadlines, MTTA/MTTR, trends, breakdowns "
     "(responder, lead, executive, admin)", tag="Metrics", query=MetricsQuerySchema, response=MetricsSchema,
     errors=(401, 403, 422))
def get_metrics():
    """Figures for the period (``since``/``until`` dates or ``days``; default the last 90 days)."""
    args = query(shared(MetricsQuerySchema))
    return dashboard.metrics(actor=g.api_user, since=args.get("since"), until=args.get("until"),
                             days=args.get("days"), roles=dashboard.API_ROLES)
