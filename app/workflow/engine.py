"""The transition engine: runs an incident's workflow definition (the only writer of transitions).

A transition is offered to an actor when their role is one of the transition's roles,
the incident is in one of its source states and every guard passes. Taking it checks
the same, validates the fields it asks for by type, and then, in one transaction,
moves the incident, marks the deadlines the transition meets, recomputes deadlines and
appends a ``transition`` event to the timeline.

Optimistic concurrency: the caller sends the ``version`` it read; a different current
version is a Conflict, and the UPDATE itself is guarded by the incident's
``version_id_col`` (a concurrent winner makes it a StaleDataError, also a Conflict), so
of N callers holding the same version exactly one wins.

``acknowledged_at`` is set by the first transition whose target state is not of the
``triage`` category (the incident left triage: someone took it on); reopening never
clears it. Reaching a ``closed`` state sets ``is_open`` False and ``resolved_at``;
leaving it (reopening) sets ``is_open`` True and clears ``resolved_at``.
"""
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from app.db import transaction, utcnow
from app.errors import Conflict, Forbidden, ValidationFailed
from app.extensions import db
from app.incidents import service as incidents
from app.incidents.models import Incident, IncidentMinistryRequest, TimelineEvent

TEXT_MAX = 5000
# Field names with a meaning beyond the record (EU AI Act Art. 73(6) evidence hold).
EVIDENCE_HOLD_FIELD = "evidence_hold"
AUTHORITIES_INFORMED_FIELD = "authorities_informed"
# The deadline whose report informs the authorities (ends an evidence hold once met).
INFORMING_RULES = ("eu-ai-act-73",)


def definition_for(incident):
    """The Definition the incident runs (the version it started on), or None when unavailable."""
    try:
        from app.workflow.loader import get_definition
    except ImportError:
        return None
    try:
        return get_definition(org_id=incident.org_id, workflow_id=incident.workflow,
                              version=incident.workflow_version)
    except (KeyError, LookupError):
        return None


def state_label(definition, name):
    """The Label of a state of ``definition`` (None when unknown or no definition)."""
    if definition is None or name is None:
        return None
    state = definition.states.get(name)
    return state.label if state else None


# --- guards -------------------------------------------------------------------------------


def _has_linked_request(incident):
    try:
        from app.liaison.service import has_linked_request
    except (ImportError, AttributeError):
        has_linked_request = None
    if has_linked_request is not None:
        return bool(has_linked_request(incident.id))
    # Until the ministry-request service lands: the link table itself.
    stmt = select(IncidentMinistryRequest.request_id).where(IncidentMinistryRequest.incident_id == incident.id).limit(1)
    return db.session.execute(stmt).first() is not None


def facts_match(conditions, incident):
    """True when the incident has the facts ``conditions`` (a Conditions) asks for."""
    if conditions is None:
        return True
    if hasattr(conditions, "matches"):
        return conditions.matches(incident)
    if conditions.kinds is not None and incident.kind not in conditions.kinds:
        return False
    if conditions.severities is not None and incident.severity not in conditions.severities:
        return False
    if conditions.jurisdictions_any is not None and not set(incident.jurisdictions or ()) & set(conditions.jurisdictions_any):
        return False
    if conditions.personal_data is not None and bool(incident.personal_data) != conditions.personal_data:
        return False
    return True


def guard_passes(guard, incident, _cache=None):
    """True when one Guard holds for the incident."""
    cache = _cache if _cache is not None else {}
    if guard.any is not None:
        return any(guard_passes(g, incident, cache) for g in guard.any)
    if guard.deadlines_met is not None:
        rules = set(guard.deadlines_met)
        return all(d.met_at is not None for d in incident.deadlines if d.rule in rules)
    if guard.facts is not None:
        return facts_match(guard.facts, incident)
    if guard.ministry_request_linked is not None:
        if "linked" not in cache:
            cache["linked"] = _has_linked_request(incident)
        return cache["linked"] == bool(guard.ministry_request_linked)
    return True


def guards_pass(transition, incident, _cache=None):
    """True when every guard of ``transition`` holds for the incident."""
    cache = _cache if _cache is not None else {}
    return all(guard_passes(g, incident, cache) for g in transition.guards)


def _source_matches(definition, transition, state_name):
    if state_name in transition.sources:
        return True
    state = definition.states.get(state_name)
    return "*" in transition.sources and state is not None and state.category != "closed"


# --- reading ------------------------------------------------------------------------------


def available_transitions(*, actor, incident, definition=None):
    """The Transitions the actor may take now (role, source state and every guard)."""
    definition = definition or definition_for(incident)
    if definition is None or incident.state not in definition.states:
        return []
    cache = {}
    return [
        t for t in definition.transitions_from(incident.state)
        if actor.role in t.roles and guards_pass(t, incident, cache)
    ]


def find_transition(definition, name, state_name=None):
    """The transition called ``name`` (the one from ``state_name`` when several share it), or None."""
    candidates = [t for t in definition.transitions if t.name == name]
    if not candidates:
        return None
    for t in candidates:
        if state_name is not None and _source_matches(definition, t, state_name):
            return t
    return candidates[0]


# --- fields -------------------------------------------------------------------------------


def _missing(value):
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, (list, tuple)) and not value)


def _parse_datetime(value):
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("Must be a date and time (ISO 8601 with an offset).") from None
    else:
        raise ValueError("Must be a date and time (ISO 8601 with an offset).")
    if parsed.tzinfo is None:
        raise ValueError("Give a time zone offset (for example +09:00 or Z).")
    return parsed.astimezone(timezone.utc)


def clean_field(spec, value):
    """One field value checked against its FieldSpec: the JSON value to record, or ValueError."""
    kind = spec.type
    if kind in ("text", "textarea"):
        if not isinstance(value, str):
            raise ValueError("Must be text.")
        value = value.strip()
        if len(value) > TEXT_MAX:
            raise ValueError(f"At most {TEXT_MAX} characters.")
        return value
    if kind == "datetime":
        return _parse_datetime(value).isoformat()
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError("Must be true or false.")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("Must be a whole number.")
        return value
    if kind == "choice":
        if value not in spec.options:
            raise ValueError(f"Must be one of: {', '.join(map(str, spec.options))}.")
        return value
    if kind == "multichoice":
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ValueError("Must be a list of choices.")
        bad = [v for v in value if v not in spec.options]
        if bad:
            raise ValueError(f"Must be one of: {', '.join(map(str, spec.options))}.")
        return list(dict.fromkeys(value))
    raise ValueError(f"Unknown field type {kind}.")


def clean_fields(transition, values):
    """Check the values given for a transition's fields; return the clean ones or raise ValidationFailed."""
    values = dict(values or {})
    errors, clean = {}, {}
    known = {spec.name for spec in transition.fields}
    for name in sorted(set(values) - known):
        errors[name] = [f"Not a field of the transition {transition.name}."]
    for spec in transition.fields:
        value = values.get(spec.name)
        if _missing(value):
            if spec.required:
                errors[spec.name] = ["Required."]
            continue
        try:
            clean[spec.name] = clean_field(spec, value)
        except ValueError as exc:
            errors[spec.name] = [str(exc)]
    if errors:
        raise ValidationFailed(errors)
    return clean


# --- writing ------------------------------------------------------------------------------


def _deadline_hooks():
    """The deadline engine's recompute and mark_met (None for each until it lands)."""
    try:
        from app.incidents import deadlines
    except ImportError:
        return None, None
    return getattr(deadlines, "recompute", None), getattr(deadlines, "mark_met", None)


def _mark_met_here(incident, rule_ids, *, by, at):
    for deadline in incident.deadlines:
        if deadline.rule in rule_ids and deadline.met_at is None:
            deadline.met_at, deadline.met_by = at, by


def transition(*, actor, incident_id, name, version, comment="", fields=None):
    """Take the transition ``name`` on an incident with the ``version`` the caller read; returns it.

    404 when the actor may not see the incident; 422 for an unknown transition, a
    missing ``version`` or bad fields; 403 when the actor's role may not; 409 when the
    version is stale or the transition is not possible from the current state or its
    guards fail.
    """
    incident = incidents.get_incident(actor=actor, incident_id=incident_id)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValidationFailed({"version": ["Required: the version you read."]})
    if not isinstance(comment, str) and comment is not None:
        raise ValidationFailed({"comment": ["Must be text."]})
    comment = (comment or "").strip()
    if len(comment) > TEXT_MAX:
        raise ValidationFailed({"comment": [f"At most {TEXT_MAX} characters."]})
    definition = definition_for(incident)
    if definition is None:
        raise Conflict(f"the workflow {incident.workflow} (version {incident.workflow_version}) is not available")
    spec = find_transition(definition, name, incident.state) if isinstance(name, str) else None
    if spec is None:
        known = sorted({t.name for t in definition.transitions})
        raise ValidationFailed({"transition": [
            f"Unknown transition. The workflow {definition.id} has: {', '.join(known)}."]})
    if actor.role not in spec.roles:
        raise Forbidden(f"your role ({actor.role}) may not take the transition {spec.name}; "
                        f"it needs one of: {', '.join(spec.roles)}")
    if incident.version != version:
        raise Conflict("the incident was changed by someone else; reload and try again",
                       fields={"version": [f"Current version is {incident.version}."]})
    if not _source_matches(definition, spec, incident.state):
        raise Conflict(f"the transition {spec.name} is not possible from the state {incident.state}")
    if not guards_pass(spec, incident):
        raise Conflict(f"the transition {spec.name} is not possible yet: {describe_guards(spec)}")
    clean = clean_fields(spec, fields)
    source = definition.states[incident.state]
    to_state = definition.target_of(spec, incident.state)
    target = definition.states[to_state]
    now = utcnow()
    recompute, mark_met = _deadline_hooks()
    try:
        with transaction() as s:
            from_state = incident.state
            incident.state = to_state
            incident.state_entered_at = now
            if target.category == "closed":
                incident.is_open = False
                incident.resolved_at = now
            else:
                incident.is_open = True
                incident.resolved_at = None
            if incident.acknowledged_at is None and target.category != "triage":
                incident.acknowledged_at = now
            s.add(incident)
            # One UPDATE of the incident row (one version step): no flush before the end.
            with s.no_autoflush:
                if spec.meets:
                    if mark_met is not None:
                        mark_met(s, incident, list(spec.meets), by=spec.name, at=now)
                    else:
                        _mark_met_here(incident, set(spec.meets), by=spec.name, at=now)
                if recompute is not None:
                    recompute(s, incident, transition=spec.name)
                s.add(TimelineEvent(
                    org_id=incident.org_id, incident_id=incident.id, actor_id=actor.id, at=now,
                    action="transition", from_state=from_state, to_state=to_state, comment=comment,
                    data={
                        "transition": spec.name,
                        "fields": clean,
                        "label": {"en": spec.label.en, "ja": spec.label.ja},
                        "from_label": {"en": source.label.en, "ja": source.label.ja},
                        "to_label": {"en": target.label.en, "ja": target.label.ja},
                        "meets": list(spec.meets),
                        "sets": dict(getattr(spec, "sets", None) or {}),
                        "workflow": definition.id,
                        "workflow_version": definition.version,
                    },
                ))
            from app.ledger import service as ledger

            # The incident's version is bumped by its one UPDATE at flush: the version after is read + 1.
            ledger.record("transition", actor=actor, subject=incident, payload={
                "number": incident.number, "transition": spec.name, "from": from_state, "to": to_state,
                "fields": clean, "comment": comment, "meets": list(spec.meets),
                "workflow": definition.id, "workflow_version": definition.version, "version": version + 1,
            })
            from app.escalation import service as escalation

            escalation.incident_changed(s, incident)
    except StaleDataError:
        raise Conflict("the incident was changed by someone else; reload and try again") from None
    return incident


def describe_guards(transition):
    """The transition's guards in words (English), for Conflict messages."""
    return "; ".join(_describe(g) for g in transition.guards) or "no guard"


def _describe(guard):
    if guard.any is not None:
        return "one of (" + " or ".join(_describe(g) for g in guard.any) + ")"
    if guard.deadlines_met is not None:
        return "the deadlines " + ", ".join(guard.deadlines_met) + " must be met"
    if guard.facts is not None:
        c, parts = guard.facts, []
        if c.kinds is not None:
            parts.append("kind in " + ", ".join(c.kinds))
        if c.severities is not None:
            parts.append("severity in " + ", ".join(c.severities))
        if c.jurisdictions_any is not None:
            parts.append("a jurisdiction among " + ", ".join(c.jurisdictions_any))
        if c.personal_data is not None:
            parts.append("personal data " + ("involved" if c.personal_data else "not involved"))
        return "the incident must have " + " and ".join(parts or ["any facts"])
    if guard.ministry_request_linked is not None:
        return "a ministry request must be linked" if guard.ministry_request_linked else "no ministry request may be linked"
    return "a condition"


# --- evidence hold (EU AI Act Art. 73(6)) -------------------------------------------------


def evidence_hold_active(events):
    """True when a transition recorded ``evidence_hold: true`` and the authorities are not informed since.

    ``events`` are the incident's timeline events, oldest first; a transition records a
    flag through its ``sets`` or as a field value. The hold ends with a later transition
    that records ``evidence_hold: false`` or ``authorities_informed: true``, or that meets a reporting deadline which informs the authorities
    (``eu-ai-act-73``).
    """
    hold = False
    for event in events:
        if event.action != "transition":
            continue
        data = event.data or {}
        values = {**(data.get("sets") or {}), **(data.get("fields") or {})}
        if values.get(EVIDENCE_HOLD_FIELD) is True:
            hold = True
        if (values.get(EVIDENCE_HOLD_FIELD) is False or values.get(AUTHORITIES_INFORMED_FIELD) is True
                or set(data.get("meets") or ()) & set(INFORMING_RULES)):
            hold = False
    return hold


def system_evidence_holds(*, system_id):
    """The open incidents of an AI system (organisation-wide) under an evidence hold."""
    stmt = (
        select(TimelineEvent)
        .join(Incident, Incident.id == TimelineEvent.incident_id)
        .where(Incident.ai_system_id == system_id, Incident.is_open.is_(True), TimelineEvent.action == "transition")
        .order_by(TimelineEvent.incident_id, TimelineEvent.at, TimelineEvent.id)
    )
    by_incident = {}
    for event in db.session.execute(stmt).scalars():
        by_incident.setdefault(event.incident_id, []).append(event)
    held = [incident_id for incident_id, events in by_incident.items() if evidence_hold_active(events)]
    if not held:
        return []
    return list(db.session.execute(select(Incident).where(Incident.id.in_(held)).order_by(Incident.id)).unique().scalars())
