"""The organisation's webhook endpoints: list, create, deactivate, rotate the secret, test.

Administrators only. Every write is one transaction with a ledger entry (never the
secret). A secret (``whsec_`` + 32 random bytes, URL-safe) is returned once, by the call
that made it; afterwards only its first characters are shown.
"""
import secrets
from urllib.parse import urlsplit

from sqlalchemy import select

from app.db import transaction
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.escalation.models import WebhookEndpoint
from app.extensions import db
from app.ledger import service as ledger

ADMIN_ROLES = ("admin",)
SECRET_PREFIX = "whsec_"
URL_MAX = 500
DESCRIPTION_MAX = 200
MIN_LEVEL, MAX_LEVEL = 1, 9
HINT_CHARS = len(SECRET_PREFIX) + 4

# The services' messages (English); the web pages show their translations.
MSG_REQUIRED = "Required."
MSG_TEXT = "Must be text."
MSG_URL_SCHEME = "Enter an https:// (or http://) URL with a host name."
MSG_URL_MAX = f"At most {URL_MAX} characters."
MSG_DESCRIPTION_MAX = f"At most {DESCRIPTION_MAX} characters."
MSG_LEVEL = f"Must be a whole number from {MIN_LEVEL} to {MAX_LEVEL}."


def _require_admin(actor):
    if getattr(actor, "role", None) not in ADMIN_ROLES:
        raise Forbidden(f"your role ({getattr(actor, 'role', None)}) may not manage webhooks")


def new_secret():
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_hint(endpoint):
    """What may be shown of a secret after its creation: its first characters."""
    return (endpoint.secret or "")[:HINT_CHARS] + "…"


# ---------------------------------------------------------------- validation


def validate_url(value):
    """``(url, [])`` cleaned, or ``(None, [problems])``."""
    if value is not None and not isinstance(value, str):
        return None, [MSG_TEXT]
    url = (value or "").strip()
    if not url:
        return None, [MSG_REQUIRED]
    if len(url) > URL_MAX:
        return None, [MSG_URL_MAX]
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None, [MSG_URL_SCHEME]
    if parts.scheme.lower() not in ("https", "http") or not host or any(c.isspace() for c in url):
        return None, [MSG_URL_SCHEME]
    return url, []


def validate(data):
    """``{"url", "description", "min_level"}`` cleaned, or ValidationFailed({field: [msg]})."""
    errors, clean = {}, {}
    url, problems = validate_url(data.get("url"))
    if problems:
        errors["url"] = problems
    else:
        clean["url"] = url
    description = data.get("description")
    description = "" if description is None else description
    if not isinstance(description, str):
        errors["description"] = [MSG_TEXT]
    elif len(description.strip()) > DESCRIPTION_MAX:
        errors["description"] = [MSG_DESCRIPTION_MAX]
    else:
        clean["description"] = description.strip()
    level = data.get("min_level")
    level = MIN_LEVEL if level is None else level
    if isinstance(level, str) and level.strip().isdigit():
        level = int(level.strip())
    if isinstance(level, bool) or not isinstance(level, int) or not MIN_LEVEL <= level <= MAX_LEVEL:
        errors["min_level"] = [MSG_LEVEL]
    else:
        clean["min_level"] = level
    if errors:
        raise ValidationFailed(errors)
    return clean


# ---------------------------------------------------------------- reading


def find_endpoint(webhook_id):
    """One of the organisation's endpoints (any caller; NotFound when it is not theirs)."""
    row = db.session.execute(
        select(WebhookEndpoint).where(WebhookEndpoint.id == webhook_id)).scalar_one_or_none()
    if row is None:
        raise NotFound("webhook endpoint not found")
    return row


def get_endpoint(*, actor, webhook_id):
    """One endpoint for an administrator (404 before 403: another organisation's is unknown)."""
    row = find_endpoint(webhook_id)
    _require_admin(actor)
    return row


def list_endpoints(*, actor, include_inactive=True):
    """The organisation's endpoints, active first, oldest first."""
    _require_admin(actor)
    stmt = select(WebhookEndpoint)
    if not include_inactive:
        stmt = stmt.where(WebhookEndpoint.active.is_(True))
    return db.session.execute(
        stmt.order_by(WebhookEndpoint.active.desc(), WebhookEndpoint.id)).scalars().all()


# ---------------------------------------------------------------- writing


def create_endpoint(*, actor, data):
    """Add an endpoint; returns ``(endpoint, secret)`` (the secret is never shown again)."""
    _require_admin(actor)
    clean = validate(data)
    secret = new_secret()
    with transaction() as s:
        endpoint = WebhookEndpoint(org_id=actor.org_id, url=clean["url"], secret=secret,
                                   description=clean["description"], min_level=clean["min_level"], active=True)
        s.add(endpoint)
        s.flush()
        ledger.record("webhook_created", actor=actor, subject=endpoint, payload={
            "url": endpoint.url, "description": endpoint.description, "min_level": endpoint.min_level})
    return endpoint, secret


def _locked(session, webhook_id):
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == webhook_id).execution_options(
        populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = session.execute(stmt).scalar_one_or_none()
    if row is None:
        raise NotFound("webhook endpoint not found")
    return row


def deactivate_endpoint(*, actor, webhook_id):
    """Stop sending to an endpoint (idempotent: deactivating twice records once).

    Deliveries already pending for it fail ("deactivated") and are retried, then given up.
    """
    get_endpoint(actor=actor, webhook_id=webhook_id)
    with transaction() as s:
        endpoint = _locked(s, webhook_id)
        if endpoint.active:
            endpoint.active = False
            ledger.record("webhook_deactivated", actor=actor, subject=endpoint, payload={"url": endpoint.url})
    return endpoint


def rotate_secret(*, actor, webhook_id):
    """A new secret for an active endpoint; returns ``(endpoint, secret)``. The old one stops at once."""
    get_endpoint(actor=actor, webhook_id=webhook_id)
    secret = new_secret()
    with transaction() as s:
        endpoint = _locked(s, webhook_id)
        if not endpoint.active:
            raise Conflict("this webhook endpoint is deactivated")
        endpoint.secret = secret
        ledger.record("webhook_secret_rotated", actor=actor, subject=endpoint, payload={"url": endpoint.url})
    return endpoint, secret


def send_test(*, actor, webhook_id):
    """POST a signed ``ping`` now; ``{"ok", "status", "error", "delivery", "ms"}`` (nothing is written)."""
    from app.escalation import webhooks

    endpoint = get_endpoint(actor=actor, webhook_id=webhook_id)
    target = {"endpoint_id": endpoint.id, "url": endpoint.url, "secret": endpoint.secret,
              "min_level": endpoint.min_level, "active": endpoint.active}
    db.session.rollback()  # no read transaction stays open while we wait for the receiver
    return webhooks.ping(**target)
