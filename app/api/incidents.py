"""Incidents API: file, list, read, edit, and the timeline."""
from flask import g, url_for

from app.api import bp
from app.api.openapi import doc
from app.api.util import body, query, shared
from app.incidents import service as incidents
from app.incidents.schemas import (
    IncidentCreateSchema, IncidentListQuerySchema, IncidentPageSchema, IncidentStaffViewSchema,
    IncidentUpdateSchema, TimelineEventSchema, TimelineSchema, incident_schema,
)

INCIDENT_VIEWS = ("IncidentStaffView", "IncidentReporterView")


@bp.post("/incidents")
@doc("File an incident (any role)", tag="Incidents", body=IncidentCreateSchema, response=INCIDENT_VIEWS,
     status=201, errors=(400, 401, 415, 422))
def create_incident():
    """File a new incident."""
    data = body(shared(IncidentCreateSchema))
    incident = incidents.file_incident(actor=g.api_user, data=data)
    location = url_for("api.get_incident", incident_id=incident.id)
    return incident_schema(g.api_user).dump(incident), 201, {"Location": location}


@bp.get("/incidents")
@doc("Incidents the caller may see, newest first (keyset pagination)", tag="Incidents",
     query=IncidentListQuerySchema, response=IncidentPageSchema, errors=(401, 422))
def list_incidents():
    """A page of incidents: ``items`` and ``next_cursor``."""
    args = query(shared(IncidentListQuerySchema))
    limit, cursor = args.pop("limit"), args.pop("cursor", None)
    items, next_cursor = incidents.list_incidents(actor=g.api_user, filters=args, limit=limit, cursor=cursor)
    return {"items": incident_schema(g.api_user, many=True).dump(items), "next_cursor": next_cursor}


@bp.get("/incidents/<int:incident_id>")
@doc("One incident (the caller's view of it)", tag="Incidents", response=INCIDENT_VIEWS, errors=(401, 404))
def get_incident(incident_id):
    """One incident."""
    incident = incidents.get_incident(actor=g.api_user, incident_id=incident_id)
    return incident_schema(g.api_user).dump(incident)


@bp.patch("/incidents/<int:incident_id>")
@doc("Edit an incident's facts with the version you read (responder, lead, admin)", tag="Incidents",
     body=IncidentUpdateSchema, response=IncidentStaffViewSchema, errors=(400, 401, 403, 404, 409, 415, 422))
def update_incident(incident_id):
    """Edit facts; 409 when ``version`` is stale."""
    data = body(shared(IncidentUpdateSchema))
    version = data.pop("version")
    incident = incidents.update_incident(actor=g.api_user, incident_id=incident_id, version=version, data=data)
    return incident_schema(g.api_user).dump(incident)


@bp.get("/incidents/<int:incident_id>/timeline")
@doc("What happened to the incident, oldest first", tag="Incidents", response=TimelineSchema, errors=(401, 404))
def incident_timeline(incident_id):
    """The incident's timeline."""
    incident, events = incidents.timeline_with_incident(actor=g.api_user, incident_id=incident_id)
    return {"items": TimelineEventSchema(viewer=g.api_user, incident=incident, many=True).dump(events)}
