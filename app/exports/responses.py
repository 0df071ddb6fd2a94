"""The streamed download response both blueprints answer exports with."""
from urllib.parse import quote

from flask import Response, stream_with_context


def download(chunks, *, mimetype, filename):
    """Stream ``chunks`` (bytes) as an attachment named ``filename``, inside the request context."""
    response = Response(stream_with_context(chunks), content_type=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
