"""Exports API: the incidents the caller may see as CSV, JSON or an AI Incident Database draft."""
from flask import g

from app.api import bp
from app.api.openapi import doc
from app.api.incidents import INCIDENT_VIEWS
from app.api.util import query, shared
from app.exports import service as exports
from app.exports.responses import download
from app.exports.schemas import AiidExportQuerySchema, ExportQuerySchema


@bp.get("/exports/incidents.csv")
@doc("Incidents the caller may see as CSV (text/csv, UTF-8 with BOM), streamed", tag="Exports",
     query=ExportQuerySchema, errors=(401, 422), content={"text/csv": {"type": "string"}})
def export_incidents_csv():
    """Columns: ref, title, description, kind, severity, state, workflow, occurred_at, aware_at, filed_at,
    ai_system, jurisdictions, harm_types, harmed_parties, harmed_count, sector, principles, personal_data,
    deaths, serious_incident, critical_infrastructure, widespread_infringement, reporter, assignee,
    acknowledged_at, resolved_at, next_deadline. Times in ISO 8601 in the organisation's time zone; lists
    semicolon-joined codes; reporter empty when hidden (confidential filing, caller not an admin).
    The response is text/csv, not JSON."""
    filters = query(shared(ExportQuerySchema))
    chunks = exports.csv_chunks(actor=g.api_user, filters=filters)
    return download(chunks, mimetype=exports.CSV_MIMETYPE, filename=exports.filename(actor=g.api_user, fmt="csv"))


@bp.get("/exports/incidents.json")
@doc("Incidents the caller may see as one JSON array of the caller's view, streamed", tag="Exports",
     query=ExportQuerySchema, errors=(401, 422),
     content={"application/json": {"type": "array", "items": INCIDENT_VIEWS}})
def export_incidents_json():
    """An array of the same objects GET /incidents gives in items (IncidentStaffView, or IncidentReporterView
    for reporters), every matching incident, newest first."""
    filters = query(shared(ExportQuerySchema))
    chunks = exports.json_chunks(actor=g.api_user, filters=filters)
    return download(chunks, mimetype=exports.JSON_MIMETYPE, filename=exports.filename(actor=g.api_user, fmt="json"))


@bp.get("/exports/aiid.json")
@doc("Draft AI Incident Database / OECD AI Incidents Monitor submissions (staff)", tag="Exports",
     query=AiidExportQuerySchema, errors=(401, 403, 422),
     content={"application/json": {"type": "array", "items": {"type": "object"}}})
def export_incidents_aiid():
    """An array, one object per incident: incident_id, title, description, date (occurred), date_aware,
    date_reported (filed), incident_type, deployer, developer, harmed_parties, harmed_count, deaths,
    harm_types, severity, severity_label, jurisdictions, countries, ai_system {name, purpose, model},
    sector, source, submission_note. Labels in English. A draft to review before submitting.
    Confidential incidents are left out unless an admin passes include_confidential=true; reporters get 403."""
    args = query(shared(AiidExportQuerySchema))
    include = args.pop("include_confidential", False)
    chunks = exports.aiid_chunks(actor=g.api_user, filters=args, include_confidential=include)
    return download(chunks, mimetype=exports.JSON_MIMETYPE, filename=exports.filename(actor=g.api_user, fmt="aiid"))
