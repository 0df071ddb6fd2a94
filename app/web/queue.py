"""The response leads' queue page: tabs with counts, filters, claim, assign and bulk assign."""
from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, SelectMultipleField
from wtforms.validators import Optional

from app import i18n
from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.incidents import service as incidents
from app.incidents import vocab
from app.incidents.models import FAR_FUTURE
from app.queues import service as queues
from app.systems import service as systems
from app.web import bp
from app.web.forms import _choices, _one
from app.web.helpers import roles_required, translate_message

PAGE_SIZE = 50
TABS = (
    ("all", _l("All open"), {"assignee": "any"}),
    ("mine", _l("Mine"), {"assignee": "me"}),
    ("unassigned", _l("Unassigned"), {"assignee": "none"}),
    ("overdue", _l("Overdue"), {"assignee": "any", "overdue": "1"}),
    ("due_24h", _l("Due in 24 h"), {"assignee": "any", "due_within_24h": "1"}),
)
TAB_COUNTS = {"all": "open", "mine": "mine", "unassigned": "unassigned", "overdue": "overdue", "due_24h": "due_24h"}


class QueueFilterForm(FlaskForm):
    """The queue's filters (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    assignee = SelectField(_l("Assignee"), validators=[Optional()], validate_choice=False)
    state = SelectField(_l("State"), validators=[Optional()])
    severity = SelectField(_l("Severity"), validators=[Optional()])
    ai_system_id = SelectField(_l("AI system"), validators=[Optional()], validate_choice=False)
    jurisdiction = SelectField(_l("Jurisdiction"), validators=[Optional()])
    overdue = BooleanField(_l("Overdue"))
    due_within_24h = BooleanField(_l("Due within 24 hours"))

    def __init__(self, *args, systems=(), users=(), **kwargs):
        super().__init__(*args, **kwargs)
        anyone = [_one("", _l("All"))]
        self.assignee.choices = [_one("any", _l("Anyone")), _one("me", _l("Me")), _one("none", _l("Unassigned"))] + [
            _one(str(u.id), u.name) for u in users]
        self.state.choices = anyone + _choices(vocab.STATES)
        self.severity.choices = anyone + _choices(vocab.SEVERITIES)
        self.ai_system_id.choices = anyone + [_one(str(s.id), s.name) for s in systems]
        self.jurisdiction.choices = anyone + _choices(vocab.JURISDICTIONS)

    def filters(self, actor):
        """The valid filters as the queue service takes them (responders default to their own)."""
        out = {}
        for name in ("state", "severity", "jurisdiction"):
            field = getattr(self, name)
            if field.data and not field.errors:
                out[name] = field.data
        value = self.assignee.data
        if value in ("any", "me", "none") or (value and str(value).isdigit()):
            out["assignee"] = int(value) if str(value).isdigit() else value
        else:
            out.update(queues.default_filters(actor))
            self.assignee.data = out.get("assignee", "any")
        if self.ai_system_id.data and str(self.ai_system_id.data).isdigit():
            out["ai_system_id"] = int(self.ai_system_id.data)
        for name in ("overdue", "due_within_24h"):
            if getattr(self, name).data:
                out[name] = True
        return out


class AssignForm(FlaskForm):
    """Claim, assign or unassign one incident: ``me``, a user id, or empty to unassign."""

    assignee_id = HiddenField()
    version = HiddenField()
    next = HiddenField()


class BulkAssignForm(FlaskForm):
    """Assign the ticked incidents to one person."""

    incident_ids = SelectMultipleField(validate_choice=False, coerce=str)
    assignee_id = SelectField(_l("Assign the selected incidents to"), validate_choice=False)
    next = HiddenField()


@bp.app_template_filter("countdown_text")
def countdown_text(value, units, now=None):
    """The text of a countdown as ``rules/_countdown.html`` renders it (``2 d 4 h left``).

    ``units`` is ``countdown_units()`` of the deadline engine, read once per page: filling its
    templates here costs no gettext per row (a queue page has 50 countdowns). static/countdown.js
    refreshes the text in the browser from the same data- attributes.
    """
    if value is None or value >= FAR_FUTURE:
        return ""
    seconds = int((value - (now or utcnow())).total_seconds())
    days, rest = divmod(abs(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        parts = [(units["d"], days)] + ([(units["h"], hours)] if hours else [])
    elif hours:
        parts = [(units["h"], hours)] + ([(units["min"], minutes)] if minutes else [])
    else:
        parts = [(units["min"], minutes)]
    text = " ".join(str(template).replace("{n}", str(n)) for template, n in parts)
    return str(units["overdue"] if seconds < 0 else units["left"]).replace("{t}", text)


@bp.app_template_filter("dt_compact")
def dt_compact(value, tz=None):
    """A UTC datetime as ``2026-04-01 09:30 JST`` in the organisation's zone (cheap: no CLDR pattern)."""
    if value is None:
        return ""
    local = value.astimezone(tz) if tz is not None else i18n.to_local(value)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")


def _active_tab(args):
    for name, _label, params in TABS:
        if all(args.get(k) == v for k, v in params.items()) and not (
                set(k for k in ("overdue", "due_within_24h") if args.get(k)) - set(params)):
            return name
    return None


def _safe_next(value, default):
    """A local path to go back to, never another site."""
    parts = urlsplit(value or "")
    if (value and not parts.scheme and not parts.netloc and value.startswith("/")
            and not value.startswith("//") and "\\" not in value):
        return value
    return default


@bp.get("/queue")
@roles_required(*queues.QUEUE_ROLES)
def queue_page():
    """Open incidents by nearest deadline, with tabs, filters, claim and bulk assignment."""
    users = queues.assignable_users(actor=current_user)
    form = QueueFilterForm(request.args, systems=systems.list_systems(), users=users)
    form.validate()
    filters = form.filters(current_user)
    cursor = request.args.get("cursor") or None
    try:
        items, next_cursor = queues.queue(actor=current_user, filters=filters, limit=PAGE_SIZE, cursor=cursor)
    except ValidationFailed:
        items, next_cursor = queues.queue(actor=current_user, filters=filters, limit=PAGE_SIZE)
        cursor = None
    kept = {k: v for k, v in request.args.items() if k != "cursor" and v}
    kept.setdefault("assignee", str(filters.get("assignee", "any")))
    next_url = url_for("web.queue_page", cursor=next_cursor, **kept) if next_cursor else None
    first_url = url_for("web.queue_page", **kept) if cursor else None
    active = _active_tab({k: str(v) for k, v in kept.items()})
    tabs = [(name, label, url_for("web.queue_page", **params), TAB_COUNTS[name]) for name, label, params in TABS]
    bulk = BulkAssignForm(formdata=None)
    bulk.assignee_id.choices = [_one("", _l("Nobody (unassign)"))] + [_one(str(u.id), u.name) for u in users]
    return render_template(
        "queue/list.html", form=form, items=items, counts=queues.counts(actor=current_user), tabs=tabs,
        active_tab=active, next_url=next_url, first_url=first_url, bulk=bulk, now=utcnow(),
        can_bulk=current_user.role in queues.ASSIGNER_ROLES, assign_form=AssignForm(formdata=None),
        here_url=request.full_path.rstrip("?"), tz=i18n.org_timezone(),
    )


def _flash_error(exc):
    messages = [translate_message(m) for ms in (exc.fields or {}).values() for m in ms]
    flash(" ".join(messages) if messages else exc.message, "error")


@bp.post("/incidents/<int:incident_id>/assign")
@roles_required(*queues.QUEUE_ROLES)
def incident_assign(incident_id):
    """Claim (``me``), assign (a user id) or unassign (empty) one incident, then go back."""
    incident = incidents.get_incident(actor=current_user, incident_id=incident_id)  # 404 first
    form = AssignForm()
    back = _safe_next(form.next.data, url_for("web.incident_detail", incident_id=incident.id))
    if not form.validate_on_submit():
        abort(400)
    raw = (form.assignee_id.data or "").strip()
    if raw == "me":
        assignee_id = current_user.id
    elif raw.isdigit():
        assignee_id = int(raw)
    elif raw == "":
        assignee_id = None
    else:
        abort(422)
    version = int(form.version.data) if (form.version.data or "").isdigit() else None
    try:
        queues.assign(actor=current_user, incident_id=incident.id, assignee_id=assignee_id, version=version)
    except Conflict:
        flash(_("%(ref)s was changed by someone else; nothing was assigned. Try again.", ref=incident.ref), "error")
    except NotFound:
        flash(_("That person was not found."), "error")
    except ValidationFailed as exc:
        _flash_error(exc)
    else:
        if assignee_id is None:
            flash(_("%(ref)s is now unassigned.", ref=incident.ref), "success")
        elif assignee_id == current_user.id:
            flash(_("You took %(ref)s.", ref=incident.ref), "success")
        else:
            flash(_("%(ref)s was assigned.", ref=incident.ref), "success")
    return redirect(back)


@bp.post("/queue/bulk-assign")
@roles_required(*queues.ASSIGNER_ROLES)
def queue_bulk_assign():
    """Assign the ticked incidents to one person, all or nothing."""
    form = BulkAssignForm()
    back = _safe_next(form.next.data, url_for("web.queue_page"))
    if not form.validate_on_submit():
        abort(400)
    ids = [int(v) for v in form.incident_ids.data or [] if str(v).isdigit()]
    raw = (form.assignee_id.data or "").strip()
    if not ids:
        flash(_("Tick at least one incident."), "error")
        return redirect(back)
    try:
        done = queues.bulk_assign(actor=current_user, incident_ids=ids,
                                  assignee_id=int(raw) if raw.isdigit() else None)
    except NotFound:
        flash(_("That person was not found."), "error")
    except (ValidationFailed, Conflict) as exc:
        _flash_error(exc)
    else:
        flash(_("%(n)s incidents were assigned.", n=len(done)), "success")
    return redirect(back)

