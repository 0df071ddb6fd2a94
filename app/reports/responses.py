"""The download response of a built report pack (the bytes are already in memory)."""
from urllib.parse import quote

from flask import Response


def attachment(data, filename, content_type):
    """``data`` as an attachment named ``filename`` (headers as app.exports.responses.download)."""
    response = Response(data, content_type=content_type)
    response.headers["Content-Disposition"] = f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
