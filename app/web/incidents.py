"""Incident pages: the list with filters, the intake form, the detail page and the edit form."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.errors import Conflict, ValidationFailed
from app.incidents import service as incidents
from app.systems import service as systems
from app.web import bp
from app.web.forms import IncidentEditForm, IncidentFilterForm, IncidentForm
from app.web.helpers import apply_service_errors, can_edit_incidents, roles_required

PAGE_SIZE = 50


@bp.get("/incidents")
@login_required
def incidents_list():
    """Incidents the user may see, newest first, with filters and a next-page link."""
    form = IncidentFilterForm(request.args, systems=systems.list_systems())
    form.validate()
    cursor = request.args.get("cursor") or None
    try:
        items, next_cursor = incidents.list_incidents(
            actor=current_user, filters=form.filters(), limit=PAGE_SIZE, cursor=cursor)
    except ValidationFailed:
        items, next_cursor = incidents.list_incidents(actor=current_user, filters=form.filters(), limit=PAGE_SIZE)
        cursor = None
    next_url = None
    if next_cursor:
        args = {k: v for k, v in request.args.items() if k != "cursor" and v}
        next_url = url_for("web.incidents_list", cursor=next_cursor, **args)
    first_url = None
    if cursor:
        first_url = url_for("web.incidents_list", **{k: v for k, v in request.args.items() if k != "cursor" and v})
    return render_template("incidents/list.html", form=form, items=items, next_url=next_url, first_url=first_url)


@bp.route("/incidents/new", methods=["GET", "POST"])
@login_required
def incident_new():
    """The intake form; an invalid post answers 422 with every typed value kept."""
    form = IncidentForm(systems=systems.list_systems())
    problems = []
    if form.validate_on_submit():
        try:
            incident = incidents.file_incident(actor=current_user, data=form.to_data())
        except ValidationFailed as exc:
            problems = apply_service_errors(form, exc.fields)
        else:
            flash(_("Incident %(ref)s was filed.", ref=incident.ref), "success")
            return redirect(url_for("web.incident_detail", incident_id=incident.id))
    status = 422 if request.method == "POST" else 200
    return render_template("incidents/form.html", form=form, problems=problems, incident=None), status


@bp.get("/incidents/<int:incident_id>")
@login_required
def incident_detail(incident_id):
    """Every fact of an incident, its deadlines, state and timeline."""
    incident = incidents.get_incident(actor=current_user, incident_id=incident_id)
    events = incidents.timeline(actor=current_user, incident_id=incident_id)
    return render_template(
        "incidents/detail.html", incident=incident, events=events,
        show_reporter=incidents.can_see_reporter(viewer=current_user, incident=incident),
        can_edit=can_edit_incidents(current_user),
    )


@bp.route("/incidents/<int:incident_id>/edit", methods=["GET", "POST"])
@roles_required("responder", "lead", "admin")
def incident_edit(incident_id):
    """Edit the facts with the version read; a stale version is a 409 that keeps the input."""
    incident = incidents.get_incident(actor=current_user, incident_id=incident_id)
    form = IncidentEditForm(obj=None if request.method == "POST" else _form_values(incident),
                            systems=systems.list_systems())
    problems, conflict, status = [], False, 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                version = int(form.version.data or "")
            except ValueError:
                version = None
            try:
                incidents.update_incident(actor=current_user, incident_id=incident_id, version=version,
                                          data=_changed_times_only(form.to_data(), incident))
            except Conflict:
                conflict, status = True, 409
                incident = incidents.get_incident(actor=current_user, incident_id=incident_id)
                form.version.data = str(incident.version)
            except ValidationFailed as exc:
                problems = apply_service_errors(form, exc.fields)
            else:
                flash(_("The incident was updated."), "success")
                return redirect(url_for("web.incident_detail", incident_id=incident_id))
    return render_template("incidents/form.html", form=form, problems=problems, incident=incident,
                           conflict=conflict), status


def _changed_times_only(data, incident):
    """Drop times the editor left as shown (the input has minute precision, the record may not)."""
    for key in ("occurred_at", "aware_at"):
        shown = getattr(incident, key).replace(second=0, microsecond=0)
        if data.get(key) is not None and data[key] == shown:
            del data[key]
    return data


class _Values:
    """An incident's facts as the edit form reads them (times in the org's zone, naive)."""

    def __init__(self, incident):
        from app.i18n import to_local

        for name in IncidentEditForm.CHECKBOX_GROUPS + IncidentEditForm.FLAGS + (
                "title", "description", "kind", "severity", "ai_system_id", "harmed_count", "sector", "deaths"):
            setattr(self, name, getattr(incident, name))
        self.occurred_at = to_local(incident.occurred_at).replace(tzinfo=None, second=0, microsecond=0)
        self.aware_at = to_local(incident.aware_at).replace(tzinfo=None, second=0, microsecond=0)
        self.version = str(incident.version)
        self.sector = incident.sector or ""


def _form_values(incident):
    return _Values(incident)
