"""Queue API: the open incidents by nearest deadline, with counts; assign and bulk assign."""
from flask import g

from app.api import bp
from app.api.openapi import COMPONENT_SCHEMAS, doc
from app.api.util import body, query, shared
from app.incidents.schemas import IncidentStaffViewSchema, incident_schema
from app.queues import service as queues
from app.queues.schemas import (
    AssignSchema, BulkAssignResultSchema, BulkAssignSchema, QueueCountsSchema, QueueItemSchema, QueuePageSchema,
    QueueQuerySchema, dump_items,
)

COMPONENT_SCHEMAS.update({
    "QueueItem": QueueItemSchema, "QueueCounts": QueueCountsSchema, "QueuePage": QueuePageSchema,
    "Assign": AssignSchema, "BulkAssign": BulkAssignSchema, "BulkAssignResult": BulkAssignResultSchema,
})
_counts = QueueCountsSchema()


@bp.get("/queue")
@doc("The queue: open incidents, nearest deadline first, then severity (responder, lead, admin)",
     tag="Queue", query=QueueQuerySchema, response=QueuePageSchema, errors=(401, 403, 422))
def get_queue():
    """A keyset page of the queue (``items``, ``next_cursor``) and the tab ``counts``."""
    args = query(shared(QueueQuerySchema))
    limit, cursor = args.pop("limit"), args.pop("cursor", None)
    items, next_cursor = queues.queue(actor=g.api_user, filters=args, limit=limit, cursor=cursor)
    return {"items": dump_items(items), "next_cursor": next_cursor,
            "counts": _counts.dump(queues.counts(actor=g.api_user))}


@bp.post("/incidents/<int:incident_id>/assign")
@doc("Assign, claim or unassign an incident (leads and admins: anyone; responders: themselves)",
     tag="Queue", body=AssignSchema, response=IncidentStaffViewSchema, errors=(400, 401, 403, 404, 409, 415, 422))
def assign_incident(incident_id):
    """Set the assignee (null unassigns); 409 when ``version`` is given and stale."""
    data = body(shared(AssignSchema))
    incident = queues.assign(actor=g.api_user, incident_id=incident_id, assignee_id=data["assignee_id"],
                             version=data.get("version"))
    return incident_schema(g.api_user).dump(incident)


@bp.post("/queue/bulk-assign")
@doc("Assign many incidents to one user, all or nothing (lead, admin)", tag="Queue", body=BulkAssignSchema,
     response=BulkAssignResultSchema, errors=(400, 401, 403, 404, 415, 422))
def bulk_assign():
    """Assign every listed incident; a 422 lists the ids that are not the organisation's."""
    data = body(shared(BulkAssignSchema))
    done = queues.bulk_assign(actor=g.api_user, incident_ids=data["incident_ids"], assignee_id=data["assignee_id"])
    return {"assigned": [i.id for i in done], "assignee_id": data["assignee_id"]}
