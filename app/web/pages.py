"""Home page."""
from flask import redirect, url_for
from flask_login import current_user, login_required

from app.web import bp


@bp.get("/")
@login_required
def home():
    """Send each role to where its work is."""
    if current_user.role in ("executive",):
        return redirect(url_for("web.incidents_list"))
    return redirect(url_for("web.incidents_list"))


@bp.get("/incidents")
@login_required
def incidents_list():
    """Placeholder list (the full page comes with the incident views)."""
    return "incidents"
