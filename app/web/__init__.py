"""The blueprint for people: login sessions, forms and pages."""
from flask import Blueprint

bp = Blueprint("web", __name__)

from app.web import (  # noqa: E402,F401
    account, admin, auth, context, dashboard, escalations, exports, incidents, ledger, liaison, pages, queue, reports,
    rules, systems, transitions, webhooks, workflows,
)
