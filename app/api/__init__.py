"""The blueprint for programs: bearer tokens, JSON, OpenAPI."""
from flask import Blueprint, g, request

from app.errors import Unauthorized
from app.orgs import service as orgs
from app.tenancy import set_request_org

bp = Blueprint("api", __name__)


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


from app.api import incidents, meta, systems  # noqa: E402,F401
