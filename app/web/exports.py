"""Downloads of the incident list: CSV, JSON and an AI Incident Database draft, with the list's filters."""
from flask import request
from flask_login import current_user, login_required

from app.exports import service as exports
from app.exports.responses import download
from app.systems import service as systems
from app.web import bp
from app.web.forms import IncidentFilterForm

TRUE = ("1", "true", "yes", "on")


def _filters():
    """The list page's filters from the query string (invalid ones are ignored, as the list does)."""
    form = IncidentFilterForm(request.args, systems=systems.list_systems())
    form.validate()
    return form.filters()


@bp.get("/incidents/export.csv")
@login_required
def incidents_export_csv():
    """The incidents the list shows with these filters, every page, as CSV for Excel."""
    chunks = exports.csv_chunks(actor=current_user, filters=_filters())
    return download(chunks, mimetype=exports.CSV_MIMETYPE, filename=exports.filename(actor=current_user, fmt="csv"))


@bp.get("/incidents/export.json")
@login_required
def incidents_export_json():
    """The incidents the list shows with these filters, as a JSON array of the API view."""
    chunks = exports.json_chunks(actor=current_user, filters=_filters())
    return download(chunks, mimetype=exports.JSON_MIMETYPE, filename=exports.filename(actor=current_user, fmt="json"))


@bp.get("/incidents/export-aiid.json")
@login_required
def incidents_export_aiid():
    """Draft AI Incident Database / OECD AIM submissions (staff; admins may add include_confidential=1)."""
    include = request.args.get("include_confidential", "").lower() in TRUE
    chunks = exports.aiid_chunks(actor=current_user, filters=_filters(), include_confidential=include)
    return download(chunks, mimetype=exports.JSON_MIMETYPE, filename=exports.filename(actor=current_user, fmt="aiid"))
