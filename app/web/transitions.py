"""Workflow pages: the transition forms of the incident page, taking a transition, the timeline page.

Each transition the user may take is a button on the incident page that opens a small form
(a ``<details>`` element: no script) with the transition's fields, a comment box and the
version read. A rejected form is shown again on the incident page, opened, with the
errors beside the fields and every value kept (422; 409 for a stale version or a guard).
"""
from datetime import datetime

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import i18n
from app.errors import Conflict, ValidationFailed
from app.incidents import service as incidents
from app.incidents import vocab
from app.web import bp
from app.web.helpers import translate_message
from app.web.labels import ACTION_LABELS
from app.workflow import engine


def _locale():
    return str(get_locale() or "ja")


class FieldView:
    """One input of a transition form: the FieldSpec, its id, the value to show and its errors."""

    def __init__(self, spec, prefix, locale, value=None, errors=()):
        self.spec, self.name, self.type = spec, spec.name, spec.type
        self.id = f"{prefix}-{spec.name}"
        self.input_name = spec.name
        self.label = spec.label.get(locale)
        self.help = spec.help.get(locale) if getattr(spec, "help", None) else ""
        self.required = spec.required
        self.value = value
        self.errors = list(errors)
        self.options = [(str(o), _option_label(spec, o, locale)) for o in spec.options]

    def checked(self, option=None):
        """True when a checkbox (or one multichoice option) is to be shown checked."""
        if option is None:
            return bool(self.value)
        return option in (self.value or [])


def _option_label(spec, code, locale):
    if hasattr(spec, "option_label"):
        return spec.option_label(code, locale)
    return str(code)


class TransitionForm:
    """The form of one transition on the incident page."""

    def __init__(self, incident, transition, definition, locale, attempt=None):
        attempt = attempt if attempt and attempt.get("name") == transition.name else None
        self.transition = transition
        self.name = transition.name
        self.prefix = f"t-{transition.name}"
        self.label = transition.label.get(locale)
        to_state = definition.target_of(transition, incident.state)
        target = definition.states.get(to_state)
        self.to_label = target.label.get(locale) if target else to_state
        self.action = url_for("web.transition_take", incident_id=incident.id)
        self.open = attempt is not None
        values = (attempt or {}).get("values", {})
        errors = (attempt or {}).get("errors", {})
        self.fields = [FieldView(spec, self.prefix, locale, values.get(spec.name), errors.get(spec.name, ()))
                       for spec in transition.fields]
        self.comment = (attempt or {}).get("comment", "")
        self.comment_errors = errors.get("comment", [])
        self.version = (attempt or {}).get("version", incident.version)
        self.problems = (attempt or {}).get("problems", [])


def transition_forms(incident):
    """The forms of the transitions the current user may take on ``incident`` now."""
    if not current_user.is_authenticated:
        return []
    definition = engine.definition_for(incident)
    if definition is None:
        return []
    locale = _locale()
    attempt = g.get("transition_attempt")
    return [TransitionForm(incident, t, definition, locale, attempt)
            for t in engine.available_transitions(actor=current_user, incident=incident, definition=definition)]


def state_label(incident, name):
    """A state's label from the incident's workflow in the page language (vocabulary, else the name)."""
    if not name:
        return ""
    label = engine.state_label(_definition(incident), name)
    if label is not None:
        return label.get(_locale())
    return vocab.label(vocab.STATES, name)


def _definition(incident):
    cache = g.setdefault("_workflow_definitions", {})
    key = (incident.org_id, incident.workflow, incident.workflow_version)
    if key not in cache:
        cache[key] = engine.definition_for(incident)
    return cache[key]


def workflow_reason(events):
    """Why the workflow was chosen, as recorded on the 'filed' event (page language), or ''."""
    for event in events:
        if event.action != "filed":
            continue
        data = event.data or {}
        reason = data.get("workflow_reason") or data.get("selection_reason") or data.get("reason")
        if isinstance(reason, dict):
            return reason.get(_locale()) or reason.get("en") or ""
        return reason or ""
    return ""


@bp.app_context_processor
def _inject_workflow_helpers():
    return {
        "transition_forms": transition_forms,
        "workflow_state_label": state_label,
        "workflow_reason": workflow_reason,
        "evidence_hold_active": engine.evidence_hold_active,
        "system_evidence_holds": lambda system_id: engine.system_evidence_holds(system_id=system_id),
    }


def _form_values(transition):
    """The submitted form as typed values the engine checks (checkbox absent = False)."""
    prefix = f"t-{transition.name}-"
    values, errors = {}, {}
    for spec in transition.fields:
        key = prefix + spec.name
        if spec.type == "bool":
            values[spec.name] = key in request.form
        elif spec.type == "multichoice":
            chosen = request.form.getlist(key)
            if chosen:
                values[spec.name] = chosen
        else:
            raw = request.form.get(key, "")
            if raw.strip() == "":
                continue
            if spec.type == "int":
                try:
                    values[spec.name] = int(raw.strip())
                except ValueError:
                    values[spec.name] = raw
                    errors[spec.name] = [_("Must be a whole number.")]
            elif spec.type == "datetime":
                try:
                    values[spec.name] = i18n.parse_local(raw.strip())
                except ValueError:
                    values[spec.name] = raw
                    errors[spec.name] = [_("Enter a date and time.")]
            else:
                values[spec.name] = raw
    return values, errors


def _shown_values(transition, values):
    """Submitted values as the inputs show them again."""
    shown = dict(values)
    for spec in transition.fields:
        value = shown.get(spec.name)
        if spec.type == "datetime" and isinstance(value, datetime):
            shown[spec.name] = i18n.local_input_value(value)
    return shown


@bp.post("/incidents/<int:incident_id>/transitions")
@login_required
def transition_take(incident_id):
    """Take the transition named in the form; a rejected form comes back opened with its errors."""
    incident = incidents.get_incident(actor=current_user, incident_id=incident_id)
    name = request.form.get("transition", "")
    definition = engine.definition_for(incident)
    spec = engine.find_transition(definition, name, incident.state) if definition else None
    if spec is None:
        abort(404)
    values, local_errors = _form_values(spec)
    comment = request.form.get("comment", "")
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        version = None
    attempt = {"name": spec.name, "values": _shown_values(spec, values), "comment": comment,
               "version": version, "errors": {}, "problems": []}
    status = 200
    try:
        if local_errors:
            raise ValidationFailed(local_errors)
        engine.transition(actor=current_user, incident_id=incident_id, name=spec.name, version=version,
                          comment=comment, fields=values)
    except ValidationFailed as exc:
        status = 422
        for field, messages in exc.fields.items():
            target = field if field in values or any(f.name == field for f in spec.fields) or field == "comment" else None
            translated = [translate_message(m) for m in messages]
            if target:
                attempt["errors"].setdefault(target, []).extend(translated)
            else:
                attempt["problems"].extend(translated)
    except Conflict as exc:
        status = 409
        fresh = incidents.get_incident(actor=current_user, incident_id=incident_id)
        if version is not None and fresh.version != version:
            attempt["problems"].append(_(
                "Someone else changed this incident while you were working on it. Check its current "
                "state below; your input is kept, send the form again if it still applies."))
        else:
            attempt["problems"].append(_("This transition is not possible now: %(reason)s", reason=exc.message))
        attempt["version"] = fresh.version
    else:
        flash(_("%(label)s: done. The incident is now in the state %(state)s.",
                label=spec.label.get(_locale()), state=state_label(incident, spec.to)), "success")
        return redirect(url_for("web.incident_detail", incident_id=incident_id))
    g.transition_attempt = attempt
    from app.web.incidents import incident_detail

    return incident_detail(incident_id), status


def _display_value(spec, value, locale):
    if spec is None:
        return value if not isinstance(value, list) else ", ".join(map(str, value))
    if spec.type == "bool":
        return _("Yes") if value else _("No")
    if spec.type == "datetime" and isinstance(value, str):
        try:
            return i18n.format_dt(datetime.fromisoformat(value))
        except ValueError:
            return value
    if spec.type == "choice":
        return _option_label(spec, value, locale)
    if spec.type == "multichoice" and isinstance(value, list):
        return ", ".join(_option_label(spec, v, locale) for v in value)
    return value


class TimelineRow:
    """One timeline event as the timeline page shows it."""

    def __init__(self, event, incident, definition, locale, show_reporter):
        self.event, self.at, self.comment = event, event.at, event.comment
        data = event.data or {}
        self.action = ACTION_LABELS.get(event.action, event.action)
        hide = event.action == "filed" and not show_reporter
        self.actor = "" if hide or event.actor is None else event.actor.name
        self.from_label = self._state(definition, event.from_state, data.get("from_label"), locale)
        self.to_label = self._state(definition, event.to_state, data.get("to_label"), locale)
        label = data.get("label")
        self.transition = (label.get(locale) or label.get("en")) if isinstance(label, dict) else data.get("transition", "")
        spec = engine.find_transition(definition, data["transition"]) if definition and data.get("transition") else None
        specs = {f.name: f for f in spec.fields} if spec else {}
        self.values = []
        for name, value in (data.get("fields") or {}).items():
            field = specs.get(name)
            self.values.append((field.label.get(locale) if field else name, _display_value(field, value, locale)))
        changes = data.get("changes") if event.action == "edited" else None
        self.changed = list(changes) if isinstance(changes, dict) else []

    @staticmethod
    def _state(definition, name, recorded, locale):
        if not name:
            return ""
        label = engine.state_label(definition, name)
        if label is not None:
            return label.get(locale)
        if isinstance(recorded, dict):
            return recorded.get(locale) or recorded.get("en") or name
        return vocab.label(vocab.STATES, name)


@bp.get("/incidents/<int:incident_id>/timeline")
@login_required
def incident_timeline(incident_id):
    """Every event of the incident, oldest first: who, when, from and to which state, comment, fields."""
    incident, events = incidents.timeline_with_incident(actor=current_user, incident_id=incident_id)
    definition = _definition(incident)
    locale = _locale()
    show_reporter = incidents.can_see_reporter(viewer=current_user, incident=incident)
    rows = [TimelineRow(e, incident, definition, locale, show_reporter) for e in events]
    return render_template("incidents/timeline.html", incident=incident, rows=rows,
                           hold=engine.evidence_hold_active(events))
