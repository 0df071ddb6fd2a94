"""The blueprint for programs: bearer tokens, JSON, OpenAPI.

Before any handler runs, the caller is authenticated and every object id in the
URL is resolved under the caller's organisation (and visibility): another
organisation's object is a 404 before a body is even parsed, so no route can
answer 403 or 422 about an object the caller may not know exists.
"""
from flask import Blueprint, g, request
from marshmallow import ValidationError

from app.db import ID_MAX
from app.errors import NotFound, Unauthorized, ValidationFailed
from app.escalation import service as escalation_service
from app.escalation import endpoints as webhook_endpoints
from app.incidents import service as incident_service
from app.liaison import service as liaison_service
from app.orgs import service as orgs
from app.reports import service as report_service
from app.systems import service as system_service
from app.tenancy import set_request_org

bp = Blueprint("api", __name__)

# How each id in an API URL is found for the caller: raises NotFound when it is not theirs.
ID_RESOLVERS = {
    "incident_id": lambda user, value: incident_service.get_incident(actor=user, incident_id=value),
    "system_id": lambda user, value: system_service.get_system(value),
    "request_id": lambda user, value: liaison_service.find_request(value),
    "job_id": lambda user, value: report_service.get_job(actor=user, job_id=value),
    "escalation_id": lambda user, value: escalation_service.find_escalation(value),
    "webhook_id": lambda user, value: webhook_endpoints.find_endpoint(value),
}


@bp.before_request
def _authenticate():
    """Every endpoint but the OpenAPI document needs a live bearer token."""
    if request.endpoint in ("api.openapi",):
        return
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise Unauthorized("a bearer token is required (Authorization: Bearer TOKEN)")
    found = orgs.authenticate_token(raw.strip())
    if found is None:
        raise Unauthorized("the token is unknown or revoked")
    token, user = found
    g.api_user = user
    g.api_token = token
    g.org_timezone = user.organisation.timezone
    set_request_org(user.org_id)


@bp.before_request
def _resolve_ids():
    """404 for ids in the URL that are not the caller's (fails closed on an unknown id name)."""
    for name, value in (request.view_args or {}).items():
        if name == "id" or name.endswith("_id"):
            resolver = ID_RESOLVERS.get(name)
            if resolver is None:
                raise LookupError(f"no resolver for URL argument {name!r}: add it to ID_RESOLVERS")
            if isinstance(value, int) and not 0 <= value <= ID_MAX:
                # No row has such an id (the database could not even compare it).
                raise NotFound(f"{name.removesuffix('_id').replace('_', ' ')} not found")
            resolver(g.api_user, value)


@bp.errorhandler(ValidationError)
def _marshmallow_error(err):
    """A schema error that escaped a handler is still the contract's 422."""
    from app.api.util import flatten_errors
    from app.errors import error_response

    exc = ValidationFailed(flatten_errors(err.messages))
    return error_response(exc.status, exc.message, exc.code, exc.fields)


from app.api import (  # noqa: E402,F401
    escalations, exports, incidents, ledger, liaison, meta, metrics, queue, reports, systems, transitions, webhooks,
)
