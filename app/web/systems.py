"""AI system inventory pages: list, create, detail with its incidents, edit."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.errors import ValidationFailed
from app.incidents import service as incidents
from app.orgs import service as orgs
from app.systems import service as systems
from app.web import bp
from app.web.forms import SystemForm
from app.web.helpers import apply_service_errors, roles_required

MANAGERS = ("lead", "admin")


@bp.get("/systems")
@login_required
def systems_list():
    """The organisation's AI systems."""
    return render_template("systems/list.html", items=systems.list_systems())


@bp.route("/systems/new", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def system_new():
    """Add an AI system to the inventory."""
    form = SystemForm(users=orgs.list_users())
    problems = []
    if form.validate_on_submit():
        try:
            system = systems.create_system(actor=current_user, data=form.to_data())
        except ValidationFailed as exc:
            problems = apply_service_errors(form, exc.fields)
        else:
            flash(_("The AI system was added to the inventory."), "success")
            return redirect(url_for("web.system_detail", system_id=system.id))
    status = 422 if request.method == "POST" else 200
    return render_template("systems/form.html", form=form, problems=problems, system=None), status


@bp.get("/systems/<int:system_id>")
@login_required
def system_detail(system_id):
    """One AI system's facts and its latest incidents."""
    system = systems.get_system(system_id)
    items = incidents.incidents_for_system(actor=current_user, system_id=system.id)
    return render_template("systems/detail.html", system=system, items=items)


@bp.route("/systems/<int:system_id>/edit", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def system_edit(system_id):
    """Edit an AI system's facts."""
    system = systems.get_system(system_id)
    form = SystemForm(obj=None if request.method == "POST" else system, users=orgs.list_users())
    problems = []
    if form.validate_on_submit():
        try:
            systems.update_system(actor=current_user, system_id=system.id, data=form.to_data())
        except ValidationFailed as exc:
            problems = apply_service_errors(form, exc.fields)
        else:
            flash(_("The AI system was updated."), "success")
            return redirect(url_for("web.system_detail", system_id=system.id))
    status = 422 if request.method == "POST" else 200
    return render_template("systems/form.html", form=form, problems=problems, system=system), status
