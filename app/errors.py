"""Domain errors and the one error handler.

Services raise :class:`AppError` subclasses; the handler answers the contract's
JSON error shape under ``/api`` and an HTML page elsewhere.
"""
from flask import current_app, render_template, request
from werkzeug.exceptions import HTTPException


class AppError(Exception):
    """An error with an HTTP status, a stable code and optional per-field messages."""

    status = 400
    code = "bad_request"

    def __init__(self, message=None, fields=None):
        super().__init__(message or self.code)
        self.message = message or self.code.replace("_", " ")
        self.fields = fields or {}


class ValidationFailed(AppError):
    status = 422
    code = "validation_failed"

    def __init__(self, fields, message="The input is not valid."):
        super().__init__(message, fields)


class NotFound(AppError):
    status = 404
    code = "not_found"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class Conflict(AppError):
    status = 409
    code = "conflict"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}

STORAGE_FULL_MESSAGE = "The storage is full: nothing was saved. Try again later and tell your administrator."


def storage_full(err):
    """True when the database refused a write because its storage is full: SQLite's
    SQLITE_FULL ("database or disk is full") or PostgreSQL's disk_full (SQLSTATE 53100)."""
    from sqlalchemy.exc import OperationalError

    if not isinstance(err, OperationalError):
        return False
    orig = err.orig
    return getattr(orig, "sqlstate", None) == "53100" or "database or disk is full" in str(orig)


def wants_json():
    """True for API paths and clients that prefer JSON to HTML."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(status, message, code=None, fields=None, headers=None):
    """Build the JSON or HTML answer for an error."""
    code = code or CODES.get(status, "error")
    if wants_json():
        body = {"error": {"code": code, "message": message, "fields": fields or {}}}
        response = current_app.json.response(body)
        response.status_code = status
    else:
        html = render_template("error.html", status=status, message=message, code=code, fields=fields or {})
        response = current_app.make_response((html, status))
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def register_errorhandlers(app):
    """One handler for domain errors, HTTP errors and unexpected exceptions."""

    @app.errorhandler(AppError)
    def _app_error(err):
        return error_response(err.status, err.message, err.code, err.fields)

    @app.errorhandler(HTTPException)
    def _http_error(err):
        headers = {}
        if err.code == 405 and err.valid_methods:
            headers["Allow"] = ", ".join(err.valid_methods)
        retry = getattr(err, "retry_after", None)
        if retry:
            headers["Retry-After"] = str(retry)
        fields = getattr(err, "fields", None)
        return error_response(err.code or 500, err.description or err.name, fields=fields, headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(err):
        from app.extensions import db

        if storage_full(err):
            app.logger.error("storage full on %s %s: %s", request.method, request.path, err.orig)
            db.session.rollback()
            return error_response(503, STORAGE_FULL_MESSAGE, "storage_full", headers={"Retry-After": "60"})
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return error_response(500, "An unexpected error occurred. It has been logged.")
