"""The blueprint for people: login sessions, forms and pages."""
from flask import Blueprint

bp = Blueprint("web", __name__)

from app.web import account, admin, auth, context, dashboard, exports, incidents, liaison, pages, queue, rules, systems, transitions, workflows  # noqa: E402,F401
