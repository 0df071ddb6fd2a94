"""Transitions API: what the caller may do with an incident now, and doing it."""
from flask import current_app, g, request

from app.api import bp
from app.api.openapi import COMPONENT_SCHEMAS, doc
from app.api.util import body, shared
from app.incidents import service as incidents
from app.incidents.schemas import IncidentStaffViewSchema, incident_schema
from app.workflow import engine
from app.workflow.transitions_schema import (
    AvailableTransitionListSchema, AvailableTransitionSchema, TransitionFieldSchema, TransitionLabelSchema,
    TransitionRequestSchema, transition_view,
)

# Nested schemas before the schemas that use them.
COMPONENT_SCHEMAS.setdefault("TransitionLabel", TransitionLabelSchema)
COMPONENT_SCHEMAS.setdefault("TransitionField", TransitionFieldSchema)
COMPONENT_SCHEMAS.setdefault("AvailableTransition", AvailableTransitionSchema)
COMPONENT_SCHEMAS.setdefault("AvailableTransitionList", AvailableTransitionListSchema)
COMPONENT_SCHEMAS.setdefault("TransitionRequest", TransitionRequestSchema)

RESERVED = ("transition", "version", "comment", "fields")


def _locale():
    """The caller's language: their saved choice, else Accept-Language, else the default."""
    languages = current_app.config["LANGUAGES"]
    if g.api_user.locale in languages:
        return g.api_user.locale
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


@bp.get("/incidents/<int:incident_id>/transitions")
@doc("The transitions the caller may take now (role, state and guards)", tag="Workflow",
     response=AvailableTransitionListSchema, errors=(401, 404))
def list_transitions(incident_id):
    """Transitions on offer, each with its label, target state and required fields."""
    incident = incidents.get_incident(actor=g.api_user, incident_id=incident_id)
    definition = engine.definition_for(incident)
    locale = _locale()
    items = [transition_view(t, definition, locale, incident.state)
             for t in engine.available_transitions(actor=g.api_user, incident=incident, definition=definition)]
    return shared(AvailableTransitionListSchema).dump(
        {"items": items, "state": incident.state, "version": incident.version})


@bp.post("/incidents/<int:incident_id>/transitions")
@doc("Take a transition with the version you read", tag="Workflow", body=TransitionRequestSchema,
     response=IncidentStaffViewSchema, errors=(400, 401, 403, 404, 409, 415, 422))
def take_transition(incident_id):
    """Move the incident; 409 when ``version`` is stale or the guards fail, 403 for the role,
    422 with ``fields`` for missing or bad fields."""
    data = body(shared(TransitionRequestSchema))
    values = {key: value for key, value in data.items() if key not in RESERVED and key != "fields_"}
    values.update(data.get("fields_") or {})
    incident = engine.transition(actor=g.api_user, incident_id=incident_id, name=data["transition"],
                                 version=data["version"], comment=data.get("comment", ""), fields=values)
    return incident_schema(g.api_user).dump(incident)
