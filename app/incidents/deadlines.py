"""The deadline engine: regulatory rules as data, periods counted as the law counts them.

Rules come from ``workflows/rules/deadlines.yaml`` (validated at start, see
:mod:`app.incidents.rules_schema`) and from each organisation's own rules (``OrgRule``,
kind ``internal``). :func:`recompute` keeps an incident's ``Deadline`` rows in step with
its facts: one row per applicable rule, plus the response target of its current
workflow state; unmet rows whose rule stopped applying are deleted, met rows are kept
as history; ``Incident.queue_due_at`` is the nearest unmet due time.

Counting (Japan Civil Code Arts. 140-141; EU Regulation 1182/71 Art. 3): a period of N
days does not count the day of awareness and ends at 24:00 of the Nth day after it, in
the rule's time zone; a period of hours runs from ``aware_at`` exactly.
"""
import re
from collections import namedtuple
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app, g, has_app_context, has_request_context
from flask_babel import get_locale, gettext as _, ngettext
from sqlalchemy import inspect, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.db import transaction, utcnow
from app.errors import Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.incidents.models import FAR_FUTURE, Deadline, Incident, IncidentMinistryRequest, OrgRule
from app.incidents.rules_schema import RulesFileError, load_rules_file, validate_rule

RULES_FILE = Path(__file__).resolve().parent.parent.parent / "workflows" / "rules" / "deadlines.yaml"
STATE_TARGET_PREFIX = "target:"

# A rule that applies to an incident, with the period that wins for its facts.
Applicable = namedtuple("Applicable", "id kind rule period timezone source")

_module_rules = None  # shipped rules when no application is around (scripts, unit tests)


# ---------------------------------------------------------------- loading


def init_app(app):
    """Load and validate the shipped rules file (raises RulesFileError) and add the template helpers."""
    path = app.config.get("DEADLINE_RULES_FILE") or RULES_FILE
    rules = load_rules_file(path)
    app.extensions["deadline_rules"] = {rule["id"]: rule for rule in rules}
    app.add_template_global(deadline_view, "deadline_view")
    app.add_template_global(countdown, "countdown")
    app.add_template_global(period_label, "period_label")
    app.add_template_global(condition_text, "condition_text")
    app.add_template_global(countdown_units, "countdown_units")


def shipped_rules():
    """The shipped rules by id, in file order."""
    global _module_rules
    if has_app_context() and "deadline_rules" in current_app.extensions:
        return current_app.extensions["deadline_rules"]
    if _module_rules is None:
        _module_rules = {rule["id"]: rule for rule in load_rules_file(RULES_FILE)}
    return _module_rules


# ---------------------------------------------------------------- counting


def _zone(tz):
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def due_at(aware_at, period, tz):
    """When a period ends: ``{hours: N}`` exactly N hours after ``aware_at``; ``{days: N}`` at
    24:00 (local time in ``tz``) of the Nth day after the day of awareness. Returns UTC."""
    if aware_at.tzinfo is None:
        raise ValueError("aware_at must be timezone-aware")
    if "hours" in period:
        return (aware_at + timedelta(hours=period["hours"])).astimezone(timezone.utc)
    zone = _zone(tz)
    aware_day = aware_at.astimezone(zone).date()
    # 24:00 of day N is 00:00 of day N+1; local midnight, so summer time is respected.
    end = datetime.combine(aware_day + timedelta(days=period["days"] + 1), time(0), tzinfo=zone)
    return end.astimezone(timezone.utc)


def _length(period):
    return timedelta(days=period["days"]) if "days" in period else timedelta(hours=period["hours"])


def period_text(period, tz=None):
    """The neutral form stored in ``Deadline.period``: ``3d Asia/Tokyo``, ``72h``."""
    if "days" in period:
        return f"{period['days']}d {tz}" if tz else f"{period['days']}d"
    return f"{period['hours']}h"


_PERIOD = re.compile(r"^(\d+)([dhm])(?: (\S+))?$")


def period_label(text):
    """The stored period for people, in the page language: ``3日 (Asia/Tokyo)`` / ``3 days (Asia/Tokyo)``."""
    match = _PERIOD.match(text or "")
    if not match:
        return text or ""
    n, unit, tz = int(match.group(1)), match.group(2), match.group(3)
    if unit == "d":
        label = ngettext("%(num)s day", "%(num)s days", n)
    elif unit == "h":
        label = ngettext("%(num)s hour", "%(num)s hours", n)
    else:
        label = ngettext("%(num)s minute", "%(num)s minutes", n)
    return f"{label} ({tz})" if tz else label


# ---------------------------------------------------------------- conditions


def evaluate(condition, facts):
    """True when ``facts`` satisfy a condition tree of the rules format (None: always)."""
    if condition is None:
        return True
    if "all" in condition:
        return all(evaluate(c, facts) for c in condition["all"])
    if "any" in condition:
        return any(evaluate(c, facts) for c in condition["any"])
    if "not" in condition:
        return not evaluate(condition["not"], facts)
    value = facts.get(condition["fact"])
    if "is" in condition:
        return value == condition["is"]
    if "contains" in condition:
        return condition["contains"] in (value or ())
    if "any_of" in condition:
        return bool(set(condition["any_of"]) & set(value or ()))
    if "in" in condition:
        return value in condition["in"]
    if value is None:
        return False
    for op, test in (("gt", value.__gt__), ("gte", value.__ge__), ("lt", value.__lt__), ("lte", value.__le__)):
        if op in condition:
            return test(condition[op])
    return False


def condition_text(condition):
    """A condition tree as compact text for the admin page (``EU ∈ jurisdictions ∧ (...)``)."""
    if condition is None:
        return "*"
    if "all" in condition:
        return " ∧ ".join(_wrapped(c) for c in condition["all"])
    if "any" in condition:
        return " ∨ ".join(_wrapped(c) for c in condition["any"])
    if "not" in condition:
        return "¬" + _wrapped(condition["not"])
    fact = condition["fact"]
    for op, sign in (("is", "="), ("gt", ">"), ("gte", "≥"), ("lt", "<"), ("lte", "≤")):
        if op in condition:
            value = condition[op]
            return f"{fact} {sign} {str(value).lower() if isinstance(value, bool) else value}"
    if "contains" in condition:
        return f"{condition['contains']} ∈ {fact}"
    if "any_of" in condition:
        return f"{fact} ∩ {{{', '.join(condition['any_of'])}}}"
    return f"{fact} ∈ {{{', '.join(map(str, condition['in']))}}}"


def _wrapped(condition):
    text = condition_text(condition)
    return f"({text})" if ("all" in condition or "any" in condition) and len(next(iter(condition.values()))) > 1 else text


def resolve_period(rule, facts):
    """The rule's period for these facts: the shortest applicable override, else the base period."""
    applicable = [o["period"] for o in rule.get("overrides") or () if evaluate(o["when"], facts)]
    if not applicable:
        return rule["period"]
    return min(applicable, key=_length)


# ---------------------------------------------------------------- facts and rules


def incident_facts(session, incident):
    """The facts rules are evaluated on (the incident's, plus ``ministry_request_linked``)."""
    linked = False
    if incident.id is not None:
        with session.no_autoflush:
            linked = session.execute(
                select(IncidentMinistryRequest.incident_id)
                .where(IncidentMinistryRequest.incident_id == incident.id).limit(1)
            ).first() is not None
    return {
        "jurisdictions": list(incident.jurisdictions or ()),
        "personal_data": bool(incident.personal_data),
        "deaths": incident.deaths or 0,
        "serious_incident": bool(incident.serious_incident),
        "critical_infrastructure": bool(incident.critical_infrastructure),
        "widespread_infringement": bool(incident.widespread_infringement),
        "wrongful_purpose": bool(incident.wrongful_purpose),
        "severity": incident.severity,
        "kind": incident.kind,
        "ministry_request_linked": linked,
    }


def _active_org_rules(session, org_id):
    with session.no_autoflush:
        rows = session.execute(
            select(OrgRule).where(OrgRule.org_id == org_id, OrgRule.active.is_(True)).order_by(OrgRule.id)
        ).scalars()
        return [row.definition for row in rows]


def applicable_rules(incident, facts, *, org_rules=None):
    """The shipped and organisation rules that apply to an incident with ``facts``, each with its period.

    ``org_rules``: the organisation's active rule definitions (default: read from the database).
    An organisation rule with the id of a shipped rule marked ``org_may_override`` replaces
    that rule's period (the organisation's own target); other organisation rules are internal.
    """
    if org_rules is None:
        org_rules = _active_org_rules(db.session, incident.org_id)
    shipped = shipped_rules()
    own = {r["id"]: r for r in org_rules}
    found = []
    for rule in shipped.values():
        if not evaluate(rule["when"], facts):
            continue
        replacement = own.get(rule["id"]) if rule.get("org_may_override") else None
        period = resolve_period(replacement or rule, facts)
        tz = (replacement or rule)["timezone"]
        found.append(Applicable(rule["id"], rule.get("kind", "regulatory"), rule, period, tz, rule["source"]))
    for rule in org_rules:
        if rule["id"] in shipped or not evaluate(rule["when"], facts):
            continue
        found.append(Applicable(rule["id"], "internal", rule, resolve_period(rule, facts),
                                rule["timezone"], rule["source"]))
    return found


def _definition(incident):
    """The incident's workflow definition, or None while the loader cannot give it."""
    try:
        from app.workflow.loader import get_definition

        return get_definition(org_id=incident.org_id, workflow_id=incident.workflow,
                              version=incident.workflow_version)
    except (ImportError, KeyError, LookupError, AttributeError):
        return None
    except Exception as exc:  # the loader's own "not found" error
        if type(exc).__name__ in ("NotFound", "WorkflowNotFound", "UnknownWorkflow"):
            return None
        raise


def state_target(incident, definition=None):
    """``(rule, due_at, period, source)`` of the current state's response target, or None."""
    definition = definition if definition is not None else _definition(incident)
    if definition is None:
        return None
    try:
        state = definition.state(incident.state)
    except KeyError:
        return None
    seconds = (state.targets or {}).get(incident.severity)
    if not seconds:
        return None
    start = incident.state_entered_at or incident.created_at or utcnow()
    if seconds % 3600 == 0:
        period = f"{seconds // 3600}h"
    else:
        period = f"{max(1, seconds // 60)}m"
    source = f"workflow {incident.workflow} v{incident.workflow_version}: {incident.state}"
    return STATE_TARGET_PREFIX + incident.state, start + timedelta(seconds=seconds), period, source[:300]


# ---------------------------------------------------------------- recompute and meet


def recompute(session, incident, *, transition=None):
    """Bring the incident's deadline rows in step with its facts and state; returns them.

    Upserts one row per applicable rule (regulatory and internal) and the current state's
    response target; deletes unmet rows whose rule no longer applies (met rows stay as
    history); the unmet target of a state the incident has left is marked met when it
    entered its new state (``met_by`` = ``transition`` or ``state:<new state>``); sets
    ``queue_due_at``. Does not commit; never bumps the incident's version by itself.
    """
    with session.no_autoflush:
        _recompute_rows(session, incident, transition)
    _set_queue_due(session, incident)
    return list(incident.deadlines)


def _recompute_rows(session, incident, transition):
    facts = incident_facts(session, incident)
    wanted = {}
    for item in applicable_rules(incident, facts, org_rules=_active_org_rules(session, incident.org_id)):
        wanted[item.id] = {
            "kind": item.kind,
            "due_at": due_at(incident.aware_at, item.period, item.timezone),
            "source": item.source[:300],
            "period": period_text(item.period, item.timezone if "days" in item.period else None),
        }
    target = state_target(incident) if incident.is_open is not False else None
    if target:
        rule, due, period, source = target
        wanted[rule] = {"kind": "state_target", "due_at": due, "source": source, "period": period}

    rows = {row.rule: row for row in incident.deadlines}
    for rule, values in wanted.items():
        row = rows.get(rule)
        if row is None:
            incident.deadlines.append(Deadline(org_id=incident.org_id, rule=rule, **values))
        elif row.met_at is None:
            for key, value in values.items():
                if getattr(row, key) != value:
                    setattr(row, key, value)
        elif values["kind"] == "state_target" and incident.state_entered_at and row.met_at < incident.state_entered_at:
            # Back in a state whose earlier target was met: a new target starts.
            row.met_at, row.met_by = None, None
            for key, value in values.items():
                setattr(row, key, value)
    for rule, row in rows.items():
        if rule in wanted or row.met_at is not None:
            continue
        if row.kind == "state_target":
            # The incident left that state: its response target was met when it did.
            row.met_at = incident.state_entered_at or utcnow()
            row.met_by = (transition or f"state:{incident.state}")[:64]
        else:
            incident.deadlines.remove(row)
    incident.deadlines.sort(key=lambda d: (d.due_at, d.rule))


def mark_met(session, incident, rule_ids, *, by, at=None):
    """Mark the incident's unmet deadlines of ``rule_ids`` met (``met_at`` = ``at`` or now, ``met_by`` = ``by``).

    Returns the rows marked; rules the incident does not carry are ignored. Does not commit.
    """
    at = at or utcnow()
    wanted = set(rule_ids)
    marked = []
    for row in incident.deadlines:
        if row.rule in wanted and row.met_at is None:
            row.met_at, row.met_by = at, (by or "manual")[:64]
            marked.append(row)
    if marked:
        _set_queue_due(session, incident)
    return marked


def nearest_due(incident):
    """The nearest unmet due time of the incident's deadlines, FAR_FUTURE when none."""
    pending = [d.due_at for d in incident.deadlines if d.met_at is None]
    return min(pending) if pending else FAR_FUTURE


def _set_queue_due(session, incident):
    value = nearest_due(incident)
    if incident.queue_due_at == value:
        return
    state = inspect(incident)
    if state.persistent and not session.is_modified(incident, include_collections=False):
        # The incident row is already written: a targeted UPDATE, so a recompute after a
        # flush does not bump the optimistic-concurrency version (nor updated_at).
        session.execute(
            update(Incident).where(Incident.id == incident.id)
            .values(queue_due_at=value, updated_at=incident.updated_at)
            .execution_options(synchronize_session=False)
        )
        set_committed_value(incident, "queue_due_at", value)
    else:
        incident.queue_due_at = value


# ---------------------------------------------------------------- organisations' own rules


def list_org_rules():
    """The organisation's own rules (active and inactive), by id."""
    return list(db.session.execute(select(OrgRule).order_by(OrgRule.rule_id)).scalars())


def get_org_rule(rule_id):
    """One of the organisation's rules by row id, or raise NotFound (also for other organisations')."""
    row = db.session.execute(select(OrgRule).where(OrgRule.id == rule_id)).scalar_one_or_none()
    if row is None:
        raise NotFound("rule not found")
    return row


def save_org_rule(*, actor, data):
    """Create or replace (by ``id``) one of the organisation's own rules; admins only. Returns the row.

    ``data`` is a rule in the rules-file format, validated with the same schema; its kind is
    ``internal``. It may take the id of a shipped rule only when that rule is marked
    ``org_may_override`` (it then replaces that rule's period: the organisation's own target).
    Applies to incidents from their next recompute (filing, an edit of a fact, a transition).
    """
    if actor.role != "admin":
        raise Forbidden("only administrators may change deadline rules")
    data = dict(data or {})
    data["kind"] = "internal"
    data.pop("org_may_override", None)
    try:
        clean = validate_rule(data)
    except RulesFileError as exc:
        raise ValidationFailed({path or "rule": [message] for path, message in exc.problems}) from None
    shipped = shipped_rules().get(clean["id"])
    if shipped is not None and not shipped.get("org_may_override"):
        raise ValidationFailed({"id": ["A shipped regulatory rule has this id."]})
    if clean.get("description") is None:
        clean.pop("description", None)
    with transaction() as s:
        row = s.execute(select(OrgRule).where(OrgRule.rule_id == clean["id"])).scalar_one_or_none()
        created = row is None
        if row is None:
            row = OrgRule(org_id=actor.org_id, rule_id=clean["id"], definition=clean, active=True)
            s.add(row)
        else:
            row.definition = clean
        s.flush()
        from app.ledger import service as ledger

        ledger.record("deadline_rule_saved", actor=actor, subject=row,
                      payload={"rule": clean["id"], "created": created, "definition": clean, "active": row.active})
    return row


def set_org_rule_active(*, actor, rule_id, active):
    """Switch one of the organisation's rules on or off (``rule_id`` is the row id); admins only."""
    if actor.role != "admin":
        get_org_rule(rule_id)
        raise Forbidden("only administrators may change deadline rules")
    if not isinstance(active, bool):
        raise ValidationFailed({"active": ["Must be true or false."]})
    row = get_org_rule(rule_id)
    if row.active == active:
        return row
    with transaction() as s:
        row.active = active
        s.add(row)
        from app.ledger import service as ledger

        ledger.record("deadline_rule_activated" if active else "deadline_rule_deactivated", actor=actor,
                      subject=row, payload={"rule": row.rule_id})
    return row



# ---------------------------------------------------------------- display


def label_of(deadline):
    """The deadline's label as ``{"en": ..., "ja": ...}`` (its rule's, or the state target's)."""
    rule = deadline.rule
    if deadline.kind == "state_target" or rule.startswith(STATE_TARGET_PREFIX):
        state = rule[len(STATE_TARGET_PREFIX):]
        en = ja = state
        definition = _definition(deadline.incident) if deadline.incident is not None else None
        if definition is not None and state in definition.states:
            en, ja = definition.states[state].label.en, definition.states[state].label.ja
        return {"en": f"Response target: {en}", "ja": f"対応目標：{ja}"}
    if deadline.kind == "internal" or rule not in shipped_rules():
        definition = _org_rule_definitions(deadline.org_id).get(rule)
        if definition:
            return dict(definition["label"])
        return {"en": rule, "ja": rule}
    return dict(shipped_rules()[rule]["label"])


def _org_rule_definitions(org_id):
    cache = g.setdefault("_org_rule_labels", {}) if has_request_context() else {}
    if org_id not in cache:
        rows = db.session.execute(select(OrgRule).where(OrgRule.org_id == org_id)).scalars()
        cache[org_id] = {row.rule_id: row.definition for row in rows}
    return cache[org_id]


def _locale_code():
    try:
        return str(get_locale() or "en")
    except Exception:  # outside a request
        return "en"


def countdown(due, *, met_at=None, now=None):
    """``{"text", "overdue", "met"}``: the time left (or overdue) as ``2 d 4 h left`` in the page language."""
    now = now or utcnow()
    if met_at is not None:
        return {"text": "", "overdue": False, "met": True, "seconds": 0}
    seconds = int((due - now).total_seconds())
    overdue = seconds < 0
    text = duration_text(abs(seconds))
    return {
        "text": _("%(t)s overdue", t=text) if overdue else _("%(t)s left", t=text),
        "overdue": overdue, "met": False, "seconds": seconds,
    }


def duration_text(seconds):
    """``2 d 4 h`` / ``3 h 5 min`` / ``12 min`` in the page language (two units at most)."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        parts = [_("%(n)s d", n=days)] + ([_("%(n)s h", n=hours)] if hours else [])
    elif hours:
        parts = [_("%(n)s h", n=hours)] + ([_("%(n)s min", n=minutes)] if minutes else [])
    else:
        parts = [_("%(n)s min", n=minutes)]
    return " ".join(parts)


def countdown_units():
    """The unit templates the countdown script uses (``{n}``/``{t}`` placeholders), in the page language."""
    return {
        "d": _("%(n)s d", n="{n}"), "h": _("%(n)s h", n="{n}"), "min": _("%(n)s min", n="{n}"),
        "left": _("%(t)s left", t="{t}"), "overdue": _("%(t)s overdue", t="{t}"),
    }


def deadline_view(deadline, now=None):
    """What a page shows of a deadline: label in the page language, period, countdown, state."""
    labels = label_of(deadline)
    ja = _locale_code().startswith("ja")
    return {
        "rule": deadline.rule,
        "kind": deadline.kind,
        "label": labels["ja"] if ja else labels["en"],
        "source": deadline.source,
        "period": period_label(deadline.period),
        "due_at": deadline.due_at,
        "met_at": deadline.met_at,
        "met_by": deadline.met_by,
        "countdown": countdown(deadline.due_at, met_at=deadline.met_at, now=now),
    }
