"""Ministry request pages: list, record, detail with linked incidents, status, link and unlink."""
import re

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _, lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from app import i18n
from app.db import utcnow
from app.errors import ValidationFailed
from app.incidents import service as incidents
from app.liaison import service as liaison
from app.liaison import vocab as liaison_vocab
from app.queues import service as queues
from app.web import bp
from app.web.forms import DT_FORMATS, REQUIRED, _choices, _one
from app.web.helpers import apply_service_errors, roles_required, translate_message

_REF = re.compile(r"^\s*(?:AI-)?0*(\d+)\s*$", re.IGNORECASE)


def ministry_name(value):
    """A ministry code's name in the page's language (free text as written)."""
    return liaison_vocab.ministry_label(value, str(get_locale() or "ja"))


class MinistryRequestForm(FlaskForm):
    """Record a ministry request, corrective notice, guidance or report collection."""

    ministry = SelectField(_l("Ministry"), validators=[InputRequired(REQUIRED)])
    ministry_other = StringField(_l("Other ministry or agency"), validators=[Optional(), Length(max=200)],
                                 description=_l("Only when the ministry is not in the list."))
    kind = SelectField(_l("Kind"), choices=_choices(liaison_vocab.KINDS), default="request")
    reference = StringField(_l("Reference"), validators=[Optional(), Length(max=200)],
                            description=_l("The ministry's document number or reference, if any."))
    received_at = DateTimeLocalField(_l("Received at"), format=DT_FORMATS, validators=[InputRequired(REQUIRED)])
    requested_actions = TextAreaField(_l("Requested actions"), validators=[Optional(), Length(max=20000)],
                                      description=_l("What the ministry asks the organisation to do or report."))
    due_at = DateTimeLocalField(_l("Due at"), format=DT_FORMATS, validators=[Optional()],
                                description=_l("When the ministry expects the answer, if it set a date."))
    status = SelectField(_l("Status"), choices=_choices(liaison_vocab.STATUSES), default="open")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ministry.choices = [_one("", _l("Choose a ministry"))] + [
            _one(code, ministry_name(code)) for code in liaison_vocab.MINISTRIES]

    def to_data(self):
        """The service's input: times in the organisation's zone converted to UTC."""
        def utc(value):
            return None if value is None else value.replace(tzinfo=i18n.org_timezone())

        return {
            "ministry": self.ministry.data, "ministry_other": self.ministry_other.data or "",
            "kind": self.kind.data, "reference": self.reference.data or "",
            "received_at": utc(self.received_at.data), "requested_actions": self.requested_actions.data or "",
            "due_at": utc(self.due_at.data), "status": self.status.data,
        }


class StatusForm(FlaskForm):
    """Change a request's status."""

    status = SelectField(_l("Status"), choices=_choices(liaison_vocab.STATUSES))


class LinkForm(FlaskForm):
    """Link an incident by its reference (AI-0042) or number."""

    incident = StringField(_l("Incident reference"), validators=[InputRequired(REQUIRED), Length(max=20)],
                           description=_l("For example AI-0042."))


class UnlinkForm(FlaskForm):
    """Remove one link."""

    incident_id = HiddenField()


@bp.app_context_processor
def _liaison_helpers():
    """Names the incident page uses for its ministry requests and assignee controls."""
    return {"ministry_name": ministry_name, "liaison_links_for": _links_for, "queue_assignees": _assignees,
            "now": utcnow}


def _links_for(incident):
    if not current_user.is_authenticated or current_user.role not in incidents.STAFF_ROLES:
        return []
    return liaison.linked_requests(incident.id)


def _assignees():
    if not current_user.is_authenticated or current_user.role not in queues.ASSIGNER_ROLES:
        return []
    return queues.assignable_users(actor=current_user)


@bp.get("/ministry-requests")
@roles_required(*liaison.READER_ROLES)
def ministry_requests_list():
    """The organisation's ministry requests, newest first."""
    status = request.args.get("status")
    if status not in liaison_vocab.STATUSES:
        status = None
    rows = liaison.list_requests(actor=current_user, status=status, limit=200)
    return render_template("liaison/list.html", rows=rows, status=status, vocab_l=liaison_vocab,
                           can_write=current_user.role in liaison.WRITER_ROLES)


@bp.route("/ministry-requests/new", methods=["GET", "POST"])
@roles_required(*liaison.WRITER_ROLES)
def ministry_request_new():
    """Record a ministry request."""
    form = MinistryRequestForm()
    problems = []
    if form.validate_on_submit():
        try:
            item = liaison.create_request(actor=current_user, data=form.to_data())
        except ValidationFailed as exc:
            problems = apply_service_errors(form, exc.fields)
        else:
            flash(_("The ministry request was recorded."), "success")
            return redirect(url_for("web.ministry_request_detail", request_id=item.id))
    status = 422 if request.method == "POST" else 200
    return render_template("liaison/form.html", form=form, problems=problems), status


def _detail(item, *, status=200, link_form=None):
    return render_template(
        "liaison/detail.html", item=item, vocab_l=liaison_vocab,
        incidents=liaison.linked_incidents(actor=current_user, request_id=item.id),
        status_form=StatusForm(formdata=None, status=item.status), link_form=link_form or LinkForm(formdata=None),
        unlink_form=UnlinkForm(formdata=None), can_write=current_user.role in liaison.WRITER_ROLES,
    ), status


@bp.get("/ministry-requests/<int:request_id>")
@roles_required(*liaison.READER_ROLES)
def ministry_request_detail(request_id):
    """One request, its requested actions and the incidents linked to it."""
    return _detail(liaison.get_request(actor=current_user, request_id=request_id))


@bp.post("/ministry-requests/<int:request_id>")
@roles_required(*liaison.READER_ROLES)
def ministry_request_status(request_id):
    """Change the request's status."""
    liaison.get_request(actor=current_user, request_id=request_id)  # 404 before anything else
    form = StatusForm()
    if not form.validate_on_submit():
        abort(422)
    liaison.update_request(actor=current_user, request_id=request_id, data={"status": form.status.data})
    flash(_("The status was changed."), "success")
    return redirect(url_for("web.ministry_request_detail", request_id=request_id))


@bp.post("/ministry-requests/<int:request_id>/links")
@roles_required(*liaison.READER_ROLES)
def ministry_request_link(request_id):
    """Link an incident given by its reference."""
    item = liaison.get_request(actor=current_user, request_id=request_id)
    form = LinkForm()
    if form.validate_on_submit():
        match = _REF.match(form.incident.data or "")
        found = liaison.find_incident_by_number(actor=current_user, number=int(match.group(1))) if match else None
        if found is None:
            form.incident.errors = list(form.incident.errors) + [_("No incident with this reference.")]
        else:
            try:
                liaison.link(actor=current_user, request_id=item.id, incident_id=found.id)
            except ValidationFailed as exc:
                form.incident.errors = [translate_message(m) for ms in exc.fields.values() for m in ms]
            else:
                flash(_("%(ref)s is linked to this request.", ref=found.ref), "success")
                return redirect(url_for("web.ministry_request_detail", request_id=item.id))
    return _detail(item, status=422, link_form=form)


@bp.post("/ministry-requests/<int:request_id>/unlink")
@roles_required(*liaison.READER_ROLES)
def ministry_request_unlink(request_id):
    """Remove the link to one incident."""
    item = liaison.get_request(actor=current_user, request_id=request_id)
    form = UnlinkForm()
    if not form.validate_on_submit() or not (form.incident_id.data or "").isdigit():
        abort(422)
    try:
        liaison.unlink(actor=current_user, request_id=item.id, incident_id=int(form.incident_id.data))
    except ValidationFailed:
        abort(422)
    flash(_("The link was removed."), "success")
    return redirect(url_for("web.ministry_request_detail", request_id=item.id))
