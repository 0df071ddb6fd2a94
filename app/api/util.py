"""What every API handler shares: the JSON body, schema loading, role checks, docs."""
from functools import lru_cache, wraps

from flask import g, request
from marshmallow import ValidationError

from app.errors import AppError, Forbidden, ValidationFailed


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"


def json_body():
    """The request's JSON object, or 415 (not JSON) / 400 (malformed, or not an object)."""
    if not request.is_json:
        raise UnsupportedMediaType("Send a JSON object with Content-Type: application/json.")
    data = request.get_json(silent=True)
    if data is None:
        raise AppError("The body is not valid JSON.")
    if not isinstance(data, dict):
        raise AppError("The body must be a JSON object.")
    return data


def flatten_errors(messages):
    """Marshmallow's nested errors as ``{field: [message, ...]}``.

    Errors inside a list or a nested object stay under the top-level field, with
    their path in the text: ``{"jurisdictions": ["[1]: Must be one of: ..."]}``.
    """
    if not isinstance(messages, dict):
        messages = {"_schema": messages}
    return {str(field): _messages(value) for field, value in messages.items()}


def _messages(value, path=""):
    if isinstance(value, dict):
        out = []
        for key, inner in value.items():
            step = f"[{key}]" if isinstance(key, int) else (f".{key}" if path else str(key))
            out += _messages(inner, path + step)
        return out
    if isinstance(value, (list, tuple)):
        return [message for item in value for message in _messages(item, path)]
    return [f"{path}: {value}" if path else str(value)]


NUL_MESSAGE = "Must not contain the NUL character (U+0000)."


def _has_nul(value):
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


def load(schema, data, **kwargs):
    """Load ``data`` with ``schema``; a schema error becomes the contract's 422.

    Text with a NUL character is a 422 too (no column can store it: PostgreSQL refuses it).
    """
    if isinstance(data, dict):
        bad = {str(key): [NUL_MESSAGE] for key, value in data.items() if _has_nul(key) or _has_nul(value)}
        if bad:
            raise ValidationFailed(bad)
    try:
        return schema.load(data, **kwargs)
    except ValidationError as err:
        raise ValidationFailed(flatten_errors(err.messages)) from None


@lru_cache(maxsize=None)
def shared(schema_class):
    """One reusable instance of a schema class (building one deep-copies its fields)."""
    return schema_class()


def query(schema):
    """Load the query string (one value per name; empty values count as absent) with ``schema``."""
    return load(schema, {key: value for key, value in request.args.items() if value != ""})


def body(schema):
    """Load the JSON body with ``schema``."""
    return load(schema, json_body())


def require_roles(*roles):
    """Decorator: 403 unless the caller's role is one of ``roles``."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if g.api_user.role not in roles:
                raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
            return view(*args, **kwargs)

        wrapper.required_roles = roles
        return wrapper

    return decorate
