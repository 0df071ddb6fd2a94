"""Ministry requests API: record, list, read, edit, and link to incidents (AI Promotion Act levers)."""
from flask import g, url_for

from app.api import bp
from app.api.openapi import COMPONENT_SCHEMAS, doc
from app.api.util import body, query, shared
from app.incidents.service import decode_cursor, encode_cursor
from app.liaison import service as liaison
from app.liaison.schemas import (
    LinkedIncidentSchema, LinkSchema, MinistryRequestCreateSchema, MinistryRequestDetailSchema,
    MinistryRequestListQuerySchema, MinistryRequestListSchema, MinistryRequestSchema, MinistryRequestUpdateSchema,
)

COMPONENT_SCHEMAS.update({
    "MinistryRequestCreate": MinistryRequestCreateSchema, "MinistryRequestUpdate": MinistryRequestUpdateSchema,
    "MinistryRequest": MinistryRequestSchema, "LinkedIncident": LinkedIncidentSchema,
    "MinistryRequestDetail": MinistryRequestDetailSchema, "MinistryRequestList": MinistryRequestListSchema,
    "MinistryRequestLink": LinkSchema,
})
_one = MinistryRequestSchema()
_many = MinistryRequestSchema(many=True)
_detail = MinistryRequestDetailSchema()


def _detail_of(item):
    data = _detail.dump(item)
    data["incidents"] = LinkedIncidentSchema(many=True).dump(
        liaison.linked_incidents(actor=g.api_user, request_id=item.id))
    return data


@bp.get("/ministry-requests")
@doc("Ministry requests and corrective notices, newest first (lead, admin, executive)", tag="Ministry requests",
     query=MinistryRequestListQuerySchema, response=MinistryRequestListSchema, errors=(401, 403, 422))
def list_ministry_requests():
    """A page of requests: ``items`` and ``next_cursor``."""
    args = query(shared(MinistryRequestListQuerySchema))
    after = decode_cursor(args["cursor"]) if args.get("cursor") else None
    limit = args["limit"]
    rows = liaison.list_requests(actor=g.api_user, status=args.get("status"), limit=limit + 1, after_id=after)
    items = [item for item, _ in rows]
    next_cursor = encode_cursor(items[limit - 1].id) if len(items) > limit else None
    return {"items": _many.dump(items[:limit]), "next_cursor": next_cursor}


@bp.post("/ministry-requests")
@doc("Record a ministry request (lead, admin)", tag="Ministry requests", body=MinistryRequestCreateSchema,
     response=MinistryRequestSchema, status=201, errors=(400, 401, 403, 415, 422))
def create_ministry_request():
    """Record a request, corrective notice, guidance or report collection."""
    data = body(shared(MinistryRequestCreateSchema))
    item = liaison.create_request(actor=g.api_user, data=data)
    location = url_for("api.get_ministry_request", request_id=item.id)
    return _one.dump(item), 201, {"Location": location}


@bp.get("/ministry-requests/<int:request_id>")
@doc("One ministry request with its linked incidents", tag="Ministry requests",
     response=MinistryRequestDetailSchema, errors=(401, 403, 404))
def get_ministry_request(request_id):
    """A request and the incidents it is linked to."""
    return _detail_of(liaison.get_request(actor=g.api_user, request_id=request_id))


@bp.patch("/ministry-requests/<int:request_id>")
@doc("Edit a ministry request, e.g. its status (lead, admin)", tag="Ministry requests",
     body=MinistryRequestUpdateSchema, response=MinistryRequestDetailSchema, errors=(400, 401, 403, 404, 415, 422))
def update_ministry_request(request_id):
    """Change fields of a request."""
    data = body(shared(MinistryRequestUpdateSchema))
    return _detail_of(liaison.update_request(actor=g.api_user, request_id=request_id, data=data))


@bp.post("/ministry-requests/<int:request_id>/links")
@doc("Link a request to an incident; its deadlines are recomputed (lead, admin)", tag="Ministry requests",
     body=LinkSchema, response=MinistryRequestDetailSchema, errors=(400, 401, 403, 404, 415, 422))
def link_ministry_request(request_id):
    """Link the request to ``incident_id`` (the incident goes on the government-liaison path)."""
    data = body(shared(LinkSchema))
    item, _ = liaison.link(actor=g.api_user, request_id=request_id, incident_id=data["incident_id"])
    return _detail_of(item)


@bp.delete("/ministry-requests/<int:request_id>/links/<int:incident_id>")
@doc("Unlink a request from an incident (lead, admin)", tag="Ministry requests",
     response=MinistryRequestDetailSchema, errors=(401, 403, 404))
def unlink_ministry_request(request_id, incident_id):
    """Remove the link; the incident's deadlines are recomputed."""
    item, _ = liaison.unlink(actor=g.api_user, request_id=request_id, incident_id=incident_id)
    return _detail_of(item)
