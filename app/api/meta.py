"""The OpenAPI document."""
from app.api import bp


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 document of this API."""
    from app.api.openapi import build_spec

    return build_spec()
