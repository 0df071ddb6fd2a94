"""Escalation webhooks: the signed JSON POST, and the helpers a receiver verifies it with.

Each request carries::

    Content-Type: application/json
    X-AIT-Delivery: <delivery id>          the same on every retry of one delivery
    X-AIT-Timestamp: <unix seconds>        when this attempt was signed
    X-AIT-Signature: v1=<hex HMAC-SHA256(secret, b"<timestamp>." + body)>

A receiver checks the signature in constant time, refuses a timestamp outside its window
(a replay) and drops a delivery id it has already seen (deliveries are at-least-once):
:func:`verify` does all three. See docs/webhooks.md.

Only the standard library is used (``urllib.request``, ``hmac``).
"""
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request

from flask import current_app
from sqlalchemy import select

from app.escalation.models import WebhookEndpoint

SIGNATURE_VERSION = "v1"
HEADER_DELIVERY = "X-AIT-Delivery"
HEADER_TIMESTAMP = "X-AIT-Timestamp"
HEADER_SIGNATURE = "X-AIT-Signature"
DEFAULT_TOLERANCE = 300
USER_AGENT = "AI-Incident-Tracker-Webhooks/1"
_ERROR_BODY_CHARS = 300


class WebhookError(RuntimeError):
    """The receiver did not take the webhook (no answer, or a non-2xx status)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class VerificationError(ValueError):
    """A received webhook is refused: bad or missing signature, stale timestamp, or a repeat."""


# ---------------------------------------------------------------- signing and verifying


def _bytes(value):
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def sign(secret, timestamp, body):
    """The ``X-AIT-Signature`` value: ``v1=`` + hex HMAC-SHA256(secret, b"<timestamp>." + body)."""
    message = f"{int(timestamp)}.".encode("ascii") + _bytes(body)
    digest = hmac.new(_bytes(secret), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def _header(headers, name):
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    value = getter(name)
    if value is None and isinstance(headers, dict):  # a plain dict is case-sensitive
        lowered = name.lower()
        value = next((v for k, v in headers.items() if str(k).lower() == lowered), None)
    return value


def _values(headers_or_values):
    """``(delivery_id, timestamp, signature)`` from headers (any mapping) or a 3-tuple."""
    if isinstance(headers_or_values, (tuple, list)):
        if len(headers_or_values) != 3:
            raise VerificationError("give (delivery id, timestamp, signature)")
        return tuple(headers_or_values)
    return tuple(_header(headers_or_values, name)
                 for name in (HEADER_DELIVERY, HEADER_TIMESTAMP, HEADER_SIGNATURE))


def verify(secret, headers_or_values, body, *, now=None, tolerance=DEFAULT_TOLERANCE, seen=None):
    """Check a received webhook; return its delivery id, or raise :class:`VerificationError`.

    ``secret``: the endpoint's secret (or several, e.g. the old and new one while you switch
    after a rotation). ``headers_or_values``: the request's headers (any mapping; lookups
    are case-insensitive) or ``(delivery_id, timestamp, signature)``. ``body``: the raw
    bytes, exactly as received. ``tolerance``: how far (seconds) the timestamp may be from
    ``now`` (default: the current time). ``seen``: a set of delivery ids already taken; a
    delivery id in it is refused, and a verified one is added to it (discard it again if
    you then fail to process the request, so the retry is accepted).
    """
    delivery_id, timestamp, signature = _values(headers_or_values)
    if not delivery_id or not timestamp or not signature:
        raise VerificationError(
            f"missing {HEADER_DELIVERY}, {HEADER_TIMESTAMP} or {HEADER_SIGNATURE} header")
    try:
        ts = int(str(timestamp).strip())
    except ValueError:
        raise VerificationError("the timestamp is not a whole number of seconds") from None
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        raise VerificationError(f"the timestamp is outside the {tolerance} s window (a replay?)")
    secrets_ = [secret] if isinstance(secret, (str, bytes, bytearray)) else list(secret)
    offered = [part.strip() for part in str(signature).replace(",", " ").split() if part.strip()]
    offered = [_bytes(part) for part in offered if part.startswith(f"{SIGNATURE_VERSION}=")]
    matched = False
    for key in secrets_:
        expected = _bytes(sign(key, ts, body))
        for candidate in offered:
            # compare_digest on every pair: no early exit that would tell which part matched.
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise VerificationError("the signature does not match")
    delivery_id = str(delivery_id).strip()
    if seen is not None:
        if delivery_id in seen:
            raise VerificationError(f"delivery {delivery_id} was already received")
        seen.add(delivery_id)
    return delivery_id


# ---------------------------------------------------------------- sending


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other non-2xx: urllib would resend a POST as a GET."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post(url, secret, body, *, delivery_id, timeout=None, timestamp=None):
    """POST a signed body; return the HTTP status (2xx), else raise :class:`WebhookError`."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    if timeout is None:
        timeout = current_app.config.get("WEBHOOK_TIMEOUT_SECONDS", 10)
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        HEADER_DELIVERY: str(delivery_id),
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, timestamp, body),
    })
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = response.status
            response.read(_ERROR_BODY_CHARS)
    except urllib.error.HTTPError as exc:
        try:
            text = exc.read(_ERROR_BODY_CHARS).decode("utf-8", "replace").strip()
        except Exception:  # noqa: BLE001 - the status is what matters
            text = ""
        finally:
            exc.close()
        detail = f": {text}" if text else ""
        raise WebhookError(f"HTTP {exc.code} from {url}{detail}", status=exc.code) from None
    except urllib.error.URLError as exc:
        raise WebhookError(f"no answer from {url}: {exc.reason}") from None
    except (OSError, ValueError) as exc:  # timeouts, resets, a malformed URL
        raise WebhookError(f"no answer from {url}: {exc}") from None
    if not 200 <= status < 300:
        raise WebhookError(f"HTTP {status} from {url}", status=status)
    return status


# ---------------------------------------------------------------- the escalation payload


def _iso(value):
    return value.isoformat() if value is not None else None


def base_url():
    return (current_app.config.get("BASE_URL") or "").rstrip("/")


def payload(delivery, escalation, incident):
    """The JSON document of one delivery (see docs/webhooks.md)."""
    from app.escalation import policy as policies
    from app.escalation.service import policy_for

    policy = policies.policies().get(escalation.policy) or policy_for(incident)
    level = policy.level(escalation.level) if policy else None
    doc = {
        "delivery": str(delivery.id),
        "event": "escalation.reminder" if delivery.round else "escalation",
        "escalation": {
            "id": escalation.id,
            "level": escalation.level,
            "level_key": level.key if level else None,
            "level_label": {"en": level.label.en, "ja": level.label.ja} if level else None,
            "reason": escalation.reason,
            "rule": escalation.rule,
            "external": bool(escalation.external),
            "created_at": _iso(escalation.created_at),
            "round": delivery.round,
        },
        "incident": {
            "id": incident.id,
            "ref": incident.ref,
            "severity": incident.severity,
            "state": incident.state,
            "confidential": bool(incident.confidential),
            "url": f"{base_url()}/incidents/{incident.id}",
        },
    }
    if not incident.confidential:
        doc["incident"]["title"] = incident.title
    return doc


def encode(document):
    """The exact bytes that are signed and sent."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _endpoint_id(recipient):
    kind, _, value = (recipient or "").partition(":")
    if kind != "webhook" or not value.isdigit():
        raise WebhookError(f"not a webhook recipient: {recipient!r}")
    return int(value)


def send(delivery, escalation, incident):
    """Send one webhook delivery (the endpoint is read under the current organisation)."""
    from app.escalation.channels import end_read
    from app.extensions import db

    endpoint_id = _endpoint_id(delivery.recipient)
    endpoint = db.session.execute(
        select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)).scalar_one_or_none()
    if endpoint is None:
        raise WebhookError(f"webhook endpoint {endpoint_id} no longer exists")
    if not endpoint.active:
        raise WebhookError(f"webhook endpoint {endpoint_id} is deactivated")
    body = encode(payload(delivery, escalation, incident))
    url, secret, delivery_id = endpoint.url, endpoint.secret, delivery.id
    end_read()
    return post(url, secret, body, delivery_id=delivery_id)


def ping(*, endpoint_id, url, secret, min_level=1, active=True):
    """A signed test request to an endpoint; ``{"ok", "status", "error", "delivery", "ms"}``.

    Takes plain values (the caller ends its read transaction first); nothing is written.
    """
    delivery_id = f"ping-{endpoint_id}-{secrets.token_hex(6)}"
    body = encode({
        "delivery": delivery_id,
        "event": "ping",
        "endpoint": {"id": endpoint_id, "min_level": min_level, "active": bool(active)},
        "sent_at": _iso(_now()),
    })
    started = time.monotonic()
    try:
        status = post(url, secret, body, delivery_id=delivery_id)
    except WebhookError as exc:
        return {"ok": False, "status": exc.status, "error": str(exc), "delivery": delivery_id,
                "ms": int((time.monotonic() - started) * 1000)}
    return {"ok": True, "status": status, "error": "", "delivery": delivery_id,
            "ms": int((time.monotonic() - started) * 1000)}


def _now():
    from app.db import utcnow

    return utcnow()
