"""The caller and the OpenAPI document."""
from flask import current_app, g

from app.api import bp
from app.api.util import shared
from app.api.openapi import doc
from app.orgs.schemas import MeSchema


@bp.get("/me")
@doc("The caller: who the token belongs to, and their organisation", tag="Meta", response=MeSchema, errors=(401,))
def me():
    """The owner of the bearer token."""
    return shared(MeSchema).dump(g.api_user)


@bp.get("/openapi.json")
@doc("This document (no token needed)", tag="Meta", public=True)
def openapi():
    """The OpenAPI 3 document of this API."""
    from app.api.openapi import build_spec

    cache = current_app.extensions.setdefault("openapi_document", {})
    if "doc" not in cache:
        cache["doc"] = build_spec(current_app)
    return cache["doc"]
