"""Webhook endpoints API (administrators): list, add (the secret is answered once), deactivate."""
from flask import g, url_for
from marshmallow import Schema, fields

from app.api import bp
from app.api.openapi import COMPONENT_SCHEMAS, doc
from app.api.util import json_body, require_roles, shared
from app.escalation import endpoints


class WebhookEndpointSchema(Schema):
    """A receiver of escalation webhooks (its secret is never shown after creation)."""

    id = fields.Int(dump_only=True)
    url = fields.Str(metadata={"description": "Where the signed POSTs go (https:// or http://)"})
    description = fields.Str()
    min_level = fields.Int(metadata={"description": "The lowest escalation level sent here (1: every one)"})
    active = fields.Bool()
    created_at = fields.DateTime()
    secret_hint = fields.Function(endpoints.secret_hint,
                                  metadata={"description": "The first characters of the secret"})


class WebhookEndpointCreatedSchema(WebhookEndpointSchema):
    """The new endpoint with its secret: shown in this answer only."""

    secret = fields.Str(metadata={"description": "whsec_...: keep it; it cannot be shown again"})


class WebhookEndpointCreateSchema(Schema):
    """A new endpoint."""

    url = fields.Str(required=True, metadata={"description": "https:// or http://, at most 500 characters"})
    description = fields.Str(metadata={"description": "At most 200 characters"})
    min_level = fields.Int(metadata={"description": "1-9; default 1 (every escalation)"})


class WebhookEndpointListSchema(Schema):
    """The organisation's endpoints."""

    items = fields.List(fields.Nested(WebhookEndpointSchema))


COMPONENT_SCHEMAS.setdefault("WebhookEndpoint", WebhookEndpointSchema)
COMPONENT_SCHEMAS.setdefault("WebhookEndpointCreated", WebhookEndpointCreatedSchema)
COMPONENT_SCHEMAS.setdefault("WebhookEndpointCreate", WebhookEndpointCreateSchema)
COMPONENT_SCHEMAS.setdefault("WebhookEndpointList", WebhookEndpointListSchema)

ADMINS = endpoints.ADMIN_ROLES


@bp.get("/webhooks")
@doc("The organisation's webhook endpoints (admin)", tag="Webhooks", response=WebhookEndpointListSchema,
     errors=(401, 403))
@require_roles(*ADMINS)
def list_webhooks():
    """Every endpoint, active first; secrets are not shown."""
    return shared(WebhookEndpointListSchema).dump({"items": endpoints.list_endpoints(actor=g.api_user)})


@bp.post("/webhooks")
@doc("Add a webhook endpoint (admin); the answer carries its secret, once", tag="Webhooks",
     body=WebhookEndpointCreateSchema, response=WebhookEndpointCreatedSchema, status=201,
     errors=(400, 401, 403, 415, 422))
@require_roles(*ADMINS)
def create_webhook():
    """Add an endpoint. ``secret`` signs every request to it (see docs/webhooks.md)."""
    data = json_body()
    endpoint, secret = endpoints.create_endpoint(actor=g.api_user, data={
        key: data[key] for key in ("url", "description", "min_level") if key in data})
    body = shared(WebhookEndpointSchema).dump(endpoint)
    body["secret"] = secret
    location = url_for("api.get_webhook", webhook_id=endpoint.id)
    return body, 201, {"Location": location, "Cache-Control": "no-store"}


@bp.get("/webhooks/<int:webhook_id>")
@doc("One webhook endpoint (admin)", tag="Webhooks", response=WebhookEndpointSchema, errors=(401, 403, 404))
@require_roles(*ADMINS)
def get_webhook(webhook_id):
    """One endpoint; its secret is not shown."""
    return shared(WebhookEndpointSchema).dump(endpoints.get_endpoint(actor=g.api_user, webhook_id=webhook_id))


@bp.post("/webhooks/<int:webhook_id>/deactivate")
@doc("Stop sending to a webhook endpoint (admin)", tag="Webhooks", response=WebhookEndpointSchema,
     errors=(401, 403, 404))
@require_roles(*ADMINS)
def deactivate_webhook(webhook_id):
    """Deactivate an endpoint (deactivating twice changes nothing)."""
    endpoint = endpoints.deactivate_endpoint(actor=g.api_user, webhook_id=webhook_id)
    return shared(WebhookEndpointSchema).dump(endpoint)
