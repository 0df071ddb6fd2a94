"""Names every template of the web blueprint can use."""
from flask import request

from app.systems import vocab as system_vocab
from app.web import bp, helpers, labels


@bp.app_context_processor
def _inject():
    path = request.path + (("?" + request.query_string.decode("utf-8", "replace")) if request.query_string else "")
    return {
        "labels": labels,
        "system_vocab": system_vocab,
        "can_manage_systems": helpers.can_manage_systems,
        "can_edit_incidents": helpers.can_edit_incidents,
        "here": path,
    }
