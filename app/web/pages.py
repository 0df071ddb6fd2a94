"""Home page."""
from flask import redirect, url_for
from flask_login import login_required

from app.web import bp


@bp.get("/")
@login_required
def home():
    """Send each role to where its work is (the incident list, until queue and dashboard exist)."""
    return redirect(url_for("web.incidents_list"))
