"""AI systems API: the inventory (leads and admins edit it; everyone may read it)."""
from flask import g, url_for

from app.api import bp
from app.api.openapi import doc
from app.api.util import body, query, require_roles, shared
from app.systems import service as systems
from app.systems.schemas import (
    AISystemCreateSchema, AISystemListQuerySchema, AISystemListSchema, AISystemSchema, AISystemUpdateSchema,
)

EDITORS = ("lead", "admin")


@bp.post("/ai-systems")
@doc("Add an AI system to the inventory (lead or admin)", tag="AI systems", body=AISystemCreateSchema,
     response=AISystemSchema, status=201, errors=(400, 401, 403, 415, 422))
@require_roles(*EDITORS)
def create_system():
    """Add an AI system to the inventory."""
    data = body(shared(AISystemCreateSchema))
    system = systems.create_system(actor=g.api_user, data=data)
    location = url_for("api.get_system", system_id=system.id)
    return shared(AISystemSchema).dump(system), 201, {"Location": location}


@bp.get("/ai-systems")
@doc("The AI system inventory, by name", tag="AI systems", query=AISystemListQuerySchema,
     response=AISystemListSchema, errors=(401, 422))
def list_systems():
    """The organisation's AI systems."""
    filters = query(shared(AISystemListQuerySchema))
    return shared(AISystemListSchema).dump({"items": systems.list_systems(**filters)})


@bp.get("/ai-systems/<int:system_id>")
@doc("One AI system", tag="AI systems", response=AISystemSchema, errors=(401, 404))
def get_system(system_id):
    """One AI system of the organisation."""
    return shared(AISystemSchema).dump(systems.get_system(system_id))


@bp.patch("/ai-systems/<int:system_id>")
@doc("Edit an AI system's facts (lead or admin)", tag="AI systems", body=AISystemUpdateSchema,
     response=AISystemSchema, errors=(400, 401, 403, 404, 415, 422))
@require_roles(*EDITORS)
def update_system(system_id):
    """Edit an AI system."""
    data = body(shared(AISystemUpdateSchema))
    system = systems.update_system(actor=g.api_user, system_id=system_id, data=data)
    return shared(AISystemSchema).dump(system)
