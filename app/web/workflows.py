"""Administration of workflows: the shipped definitions and the organisation's copies.

Administrators read any definition (YAML, states, transitions, an SVG diagram), copy a
shipped one, edit the YAML of a copy (each save a new version; validation problems are
shown beside the text, which is kept) and read its version history.
"""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from app.errors import Conflict, NotFound, ValidationFailed
from app.web import bp
from app.web.helpers import roles_required, translate_message
from app.workflow import diagram
from app.workflow import loader
from app.workflow import service as workflows
from app.workflow.schema import format_duration

MAX_YAML = 200_000


class CopyForm(FlaskForm):
    """Copy a shipped workflow (optionally under a new name)."""

    name = StringField(_l("Name of the copy"), validators=[Optional(), Length(max=64)],
                       description=_l("Leave empty to keep the name: the copy then replaces the shipped workflow "
                                      "for your organisation."))


class YamlForm(FlaskForm):
    """The YAML text of a copy."""

    yaml_text = TextAreaField(_l("Definition (YAML)"), validators=[InputRequired(_l("Required.")),
                                                                    Length(max=MAX_YAML)])


class ActiveForm(FlaskForm):
    """Turn a copy on or off."""

    active = HiddenField()


def _locale():
    return str(get_locale() or "en")


def _view(definition, *, row=None, name=None, status=200):
    locale = _locale()
    history = workflows.history(row.id) if row is not None else []
    return render_template(
        "workflows/view.html", definition=definition, row=row, name=name or (definition.id if definition else ""),
        svg=Markup(diagram.to_svg(definition, locale)) if definition else None,
        history=history, locale=locale, fmt_duration=format_duration,
        applies=loader.describe_conditions(definition.applies_to.when) if definition else [],
        copy_form=CopyForm(formdata=None), active_form=ActiveForm(formdata=None),
        has_copy=_has_copy(name or (definition.id if definition else "")),
    ), status


def _has_copy(name):
    return any(not item["shipped"] and item["name"] == name for item in workflows.list_workflows())


@bp.get("/admin/workflows")
@roles_required("admin")
def admin_workflows():
    """Shipped workflows and the organisation's copies, and what each applies to."""
    return render_template("workflows/list.html", items=workflows.list_workflows(), locale=_locale())


@bp.get("/admin/workflows/shipped/<name>")
@roles_required("admin")
def admin_workflow_shipped(name):
    """One shipped definition: YAML, states, transitions and its diagram."""
    definition = loader.shipped().get(name)
    if definition is None:
        raise NotFound(_("Not found."))
    return _view(definition)


@bp.post("/admin/workflows/shipped/<name>/copy")
@roles_required("admin")
def admin_workflow_copy(name):
    """Copy a shipped definition into the organisation (version 1)."""
    if name not in loader.shipped():
        raise NotFound(_("Not found."))
    form = CopyForm()
    if not form.validate_on_submit():
        flash(_("The copy could not be made."), "error")
        return redirect(url_for("web.admin_workflow_shipped", name=name))
    try:
        row = workflows.copy_workflow(actor=current_user, workflow_id=name, name=(form.name.data or "").strip() or None)
    except (ValidationFailed, Conflict) as exc:
        messages = [translate_message(m) for ms in exc.fields.values() for m in ms] or [exc.message]
        flash(_("The copy could not be made: %(why)s", why=" ".join(messages)), "error")
        return redirect(url_for("web.admin_workflow_shipped", name=name))
    flash(_("Your organisation now has its own copy of %(name)s.", name=row.name), "success")
    return redirect(url_for("web.admin_workflow", workflow_id=row.id))


@bp.get("/admin/workflows/<int:workflow_id>")
@roles_required("admin")
def admin_workflow(workflow_id):
    """One stored version of a copy: YAML, diagram and version history."""
    row = workflows.get_org_workflow(workflow_id)
    return _view(workflows.definition_of(row), row=row, name=row.name)


@bp.route("/admin/workflows/<int:workflow_id>/edit", methods=["GET", "POST"])
@roles_required("admin")
def admin_workflow_edit(workflow_id):
    """Edit a copy's YAML; a valid save becomes a new version, an invalid one shows its problems."""
    row = workflows.get_org_workflow(workflow_id)
    latest = workflows.latest_row(row.id)
    form = YamlForm(data={"yaml_text": row.yaml_text} if request.method == "GET" else None)
    problems = []
    if form.validate_on_submit():
        try:
            saved = workflows.save_workflow(actor=current_user, workflow_id=row.id, yaml_text=form.yaml_text.data)
        except ValidationFailed as exc:
            problems = [translate_message(m) for m in exc.fields.get("yaml_text", [])] or [exc.message]
        else:
            flash(_("Version %(version)s of %(name)s was saved. Incidents already filed keep their version.",
                    version=saved.version, name=saved.name), "success")
            return redirect(url_for("web.admin_workflow", workflow_id=saved.id))
    elif request.method == "POST":
        problems = [translate_message(str(m)) for m in form.yaml_text.errors]
    status = 422 if request.method == "POST" else 200
    return render_template("workflows/edit.html", form=form, row=row, latest=latest, problems=problems), status


@bp.post("/admin/workflows/<int:workflow_id>/active")
@roles_required("admin")
def admin_workflow_active(workflow_id):
    """Use a copy for new incidents, or stop using it (the shipped workflow applies again)."""
    workflows.get_org_workflow(workflow_id)  # another organisation's copy is a 404 first
    form = ActiveForm()
    if not form.validate_on_submit() or form.active.data not in ("0", "1"):
        flash(_("Nothing was changed."), "error")
        return redirect(url_for("web.admin_workflow", workflow_id=workflow_id))
    row = workflows.set_active(actor=current_user, workflow_id=workflow_id, active=form.active.data == "1")
    if row.active:
        flash(_("%(name)s is used for new incidents.", name=row.name), "success")
    else:
        flash(_("%(name)s is no longer used for new incidents.", name=row.name), "success")
    return redirect(url_for("web.admin_workflow", workflow_id=row.id))
