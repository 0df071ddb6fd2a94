"""The blueprint for people: login sessions, forms and pages."""
from flask import Blueprint

bp = Blueprint("web", __name__)

from app.web import auth, pages  # noqa: E402,F401
