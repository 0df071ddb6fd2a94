"""Marshmallow schemas for the YAML format of a workflow definition, and the checks across it.

:func:`validate` takes the parsed YAML document and returns ``(data, problems)``: the
loaded data (only meaningful when there are no problems) and a list of
``(path, message)`` pairs, where ``path`` points inside the document, e.g.
``transitions[3].to``. Types and enumerations are the schemas' work; references
between parts of the document (states named by transitions, reachability of a closed
state, duplicate names) are checked afterwards by :func:`check_references`.
"""
import re
from collections import deque

from marshmallow import RAISE, Schema, ValidationError, fields, validate as v, validates_schema

from app.incidents import vocab
from app.orgs.models import ROLES
from app.workflow.definition import FIELD_TYPES, STATE_CATEGORIES, STAY

IDENT = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
TARGET = re.compile(r"^(=|[a-z][a-z0-9_]{0,63})$")
WORKFLOW_ID = re.compile(r"^[a-z][a-z0-9-]{0,62}[a-z0-9]$")
RULE_ID = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
DURATION = re.compile(r"^(\d{1,6})\s*([mhdw])$")
UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
SEVERITIES = tuple(vocab.SEVERITIES)
KINDS = tuple(vocab.KINDS)
JURISDICTIONS = tuple(vocab.JURISDICTIONS)


def incident_facts():
    """Names of the incident's own attributes: a transition field may not reuse them."""
    from app.incidents.models import Incident

    names = set(Incident.__table__.columns.keys())
    names.update(rel.key for rel in Incident.__mapper__.relationships)
    names.update({"ref", "ministry_requests", "timeline", "workflow_version"})
    return frozenset(names)


def parse_duration(value):
    """Seconds of a duration such as ``30m``, ``4h``, ``1d`` or ``2w`` (ValueError otherwise)."""
    if isinstance(value, str):
        match = DURATION.match(value.strip())
        if match and int(match.group(1)) > 0:
            return int(match.group(1)) * UNIT_SECONDS[match.group(2)]
    raise ValueError(f"{value!r} is not a duration such as 30m, 4h, 1d or 2w")


def format_duration(seconds):
    """The shortest exact text of a duration in seconds (``86400`` -> ``1d``)."""
    for unit in ("w", "d", "h", "m"):
        if seconds % UNIT_SECONDS[unit] == 0:
            return f"{seconds // UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


class Duration(fields.Field):
    """A duration written ``30m``, ``4h``, ``1d`` or ``2w``, loaded as seconds."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class Pattern(fields.String):
    """A string matching a regular expression, with a readable explanation."""

    def __init__(self, pattern, explain, **kwargs):
        super().__init__(**kwargs)
        self.pattern, self.explain = pattern, explain

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not self.pattern.match(text):
            raise ValidationError(f"{text!r} is not {self.explain}")
        return text


def ident(**kw):
    """A lower-case identifier (state, transition, field names)."""
    return Pattern(IDENT, "an identifier (lower case letters, digits and _, starting with a letter)", **kw)


def rule_id(**kw):
    """A deadline rule id such as ``appi-preliminary``."""
    return Pattern(RULE_ID, "a rule id (lower case letters, digits, - and _)", **kw)


class StrictBool(fields.Field):
    """``true`` or ``false`` only (YAML booleans), not 1, "yes" or "on"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


class StrictInt(fields.Field):
    """An integer written as one (not a boolean, not a string)."""

    def __init__(self, minimum=None, maximum=None, **kw):
        super().__init__(**kw)
        self.minimum, self.maximum = minimum, maximum

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Must be a whole number.")
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(f"Must be at least {self.minimum}.")
        if self.maximum is not None and value > self.maximum:
            raise ValidationError(f"Must be at most {self.maximum}.")
        return value


class Sources(fields.Field):
    """``from``: a list of state names, one state name, or ``"*"`` (any non-closed state)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value == "*":
            return ("*",)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise ValidationError('Must be a list of states or "*".')
        errors = {}
        for i, name in enumerate(value):
            if not isinstance(name, str) or not IDENT.match(name):
                errors[i] = [f"{name!r} is not a state name"]
        if errors:
            raise ValidationError(errors)
        if len(set(value)) != len(value):
            raise ValidationError("A state is listed twice.")
        return tuple(value)


class Scalar(fields.Field):
    """A string, number or boolean (what a transition may record with ``sets``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value is None or isinstance(value, (dict, list)):
            raise ValidationError("Must be a string, number or true/false.")
        return value


class Base(Schema):
    """Unknown keys are errors (a typo must not pass silently)."""

    class Meta:
        unknown = RAISE


class LabelSchema(Base):
    """``{en: ..., ja: ...}``: both languages are required."""

    en = fields.String(required=True, validate=v.Length(min=1, max=500))
    ja = fields.String(required=True, validate=v.Length(min=1, max=500))


class LongLabelSchema(LabelSchema):
    """A description in both languages."""

    en = fields.String(required=True, validate=v.Length(min=1, max=5000))
    ja = fields.String(required=True, validate=v.Length(min=1, max=5000))


class ConditionsSchema(Base):
    """Facts an incident must have (``applies_to.when``, ``facts`` guards)."""

    kinds = fields.List(fields.String(validate=v.OneOf(KINDS)), validate=v.Length(min=1))
    severities = fields.List(fields.String(validate=v.OneOf(SEVERITIES)), validate=v.Length(min=1))
    jurisdictions_any = fields.List(fields.String(validate=v.OneOf(JURISDICTIONS)), validate=v.Length(min=1))
    personal_data = StrictBool()
    serious = StrictBool()


GUARD_KEYS = ("deadlines_met", "facts", "ministry_request_linked", "any")


class GuardSchema(Base):
    """One guard; exactly one key."""

    deadlines_met = fields.List(rule_id(), validate=v.Length(min=1))
    facts = fields.Nested(ConditionsSchema)
    ministry_request_linked = StrictBool()
    any = fields.List(fields.Nested(lambda: GuardSchema()), validate=v.Length(min=1))

    @validates_schema(pass_original=True)
    def _one_key(self, data, original_data, **kwargs):
        if isinstance(original_data, dict) and len(original_data) != 1:
            raise ValidationError(f"A guard has exactly one of: {', '.join(GUARD_KEYS)}.")


class FieldSpecSchema(Base):
    """A field a transition asks for."""

    name = ident(required=True)
    type = fields.String(required=True, validate=v.OneOf(FIELD_TYPES))
    required = StrictBool(load_default=False)
    label = fields.Nested(LabelSchema, required=True)
    help = fields.Nested(LongLabelSchema)
    options = fields.List(Pattern(RULE_ID, "an option code (lower case letters, digits, - and _)"))
    option_labels = fields.Dict(keys=fields.String(), values=fields.Nested(LabelSchema))

    @validates_schema
    def _options(self, data, **kwargs):
        kind, options = data.get("type"), data.get("options")
        if kind in ("choice", "multichoice"):
            if not options:
                raise ValidationError(f"A {kind} field needs options.", "options")
            if len(set(options)) != len(options):
                raise ValidationError("An option is listed twice.", "options")
        elif options and kind:
            raise ValidationError(f"Only choice and multichoice fields have options, not {kind}.", "options")
        unknown = sorted(set(data.get("option_labels") or ()) - set(options or ()))
        if unknown:
            raise ValidationError(f"labels for unknown options: {', '.join(unknown)}", "option_labels")


class TransitionSchema(Base):
    """A move from some states to one state."""

    name = ident(required=True)
    sources = Sources(required=True, data_key="from")
    to = Pattern(TARGET, 'a state name, or "=" to stay in the current state', required=True)
    label = fields.Nested(LabelSchema, required=True)
    roles = fields.List(fields.String(validate=v.OneOf(ROLES)), required=True, validate=v.Length(min=1))
    fields_ = fields.List(fields.Nested(FieldSpecSchema), data_key="fields", load_default=list)
    guards = fields.List(fields.Nested(GuardSchema), load_default=list)
    meets = fields.List(rule_id(), load_default=list)
    sets = fields.Dict(keys=ident(), values=Scalar(), load_default=dict)


class StateSchema(Base):
    """A state: category, label, response targets per severity."""

    category = fields.String(required=True, validate=v.OneOf(STATE_CATEGORIES))
    label = fields.Nested(LabelSchema, required=True)
    description = fields.Nested(LongLabelSchema)
    targets = fields.Dict(keys=fields.String(validate=v.OneOf(SEVERITIES)), values=Duration(), load_default=dict)


class SelectorSchema(Base):
    """``applies_to``: priority, default, when."""

    priority = StrictInt(minimum=-1000, maximum=1000, load_default=0)
    default = StrictBool(load_default=False)
    when = fields.Nested(ConditionsSchema, load_default=dict)


class DefinitionSchema(Base):
    """The whole document."""

    id = Pattern(WORKFLOW_ID, "a workflow id (lower case letters, digits and -)", required=True)
    version = StrictInt(minimum=1, required=True)
    label = fields.Nested(LabelSchema, required=True)
    description = fields.Nested(LongLabelSchema, required=True)
    escalation_policy = Pattern(RULE_ID, "a policy name (lower case letters, digits, - and _)", allow_none=True)
    applies_to = fields.Nested(SelectorSchema, load_default=dict)
    initial_state = ident(required=True)
    states = fields.Dict(keys=ident(), values=fields.Nested(StateSchema), required=True, validate=v.Length(min=1))
    transitions = fields.List(fields.Nested(TransitionSchema), required=True, validate=v.Length(min=1))


_SCHEMA = DefinitionSchema()


def flatten_errors(errors, prefix=""):
    """Marshmallow's nested error dict as ``[(path, message)]`` in document order."""
    out = []
    if isinstance(errors, list):
        for message in errors:
            if isinstance(message, (dict, list)):
                out.extend(flatten_errors(message, prefix))
            else:
                out.append((prefix or "(document)", str(message)))
        return out
    if isinstance(errors, str):
        return [(prefix or "(document)", errors)]
    for key, value in errors.items():
        if key == "_schema":
            out.extend(flatten_errors(value, prefix))
            continue
        if isinstance(value, dict) and value and set(value) <= {"key", "value"}:
            # A Dict field's error for one entry: {"key": [...]} and/or {"value": {...}}.
            path = _join(prefix, key)
            if "key" in value:
                out.extend((p, f"(name) {m}") for p, m in flatten_errors(value["key"], path))
            if "value" in value:
                out.extend(flatten_errors(value["value"], path))
            continue
        out.extend(flatten_errors(value, _join(prefix, key)))
    return out


def _join(prefix, key):
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    key = {"fields_": "fields", "sources": "from"}.get(key, key)
    return f"{prefix}.{key}" if prefix else str(key)


def validate(document):
    """Validate a parsed YAML document: ``(data, [(path, message)])``."""
    if not isinstance(document, dict):
        return None, [("(document)", "The document must be a mapping (id, version, states, transitions, ...).")]
    try:
        data = _SCHEMA.load(document)
    except ValidationError as exc:
        problems = flatten_errors(exc.messages)
        # Check references in what did load, so one run reports as much as it can.
        partial = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        return None, problems + [p for p in check_references(partial, partial_only=True) if p not in problems]
    return data, check_references(data)


def check_references(data, partial_only=False):
    """Problems across the document: unknown states, duplicates, reachability, clashing field names."""
    problems = []
    states = data.get("states")
    transitions = data.get("transitions")
    if not isinstance(states, dict) or not isinstance(transitions, list):
        return problems
    initial = data.get("initial_state")
    if initial is not None and initial not in states:
        problems.append(("initial_state", f"unknown state {initial!r}"))
    elif initial is not None and states[initial].get("category") == "closed":
        problems.append(("initial_state", f"{initial!r} is a closed state"))
    facts = incident_facts()
    seen = {}
    for i, t in enumerate(transitions):
        if not isinstance(t, dict):
            continue
        name = t.get("name")
        if name is not None:
            if name in seen:
                problems.append((f"transitions[{i}].name", f"duplicate transition {name!r} (first at transitions[{seen[name]}])"))
            else:
                seen[name] = i
        for j, src in enumerate(t.get("sources") or ()):
            if src != "*" and src not in states:
                problems.append((f"transitions[{i}].from[{j}]", f"unknown state {src!r}"))
        if t.get("to") is not None and t["to"] != STAY and t["to"] not in states:
            problems.append((f"transitions[{i}].to", f"unknown state {t['to']!r}"))
        field_names = {}
        for j, f in enumerate(t.get("fields_") or ()):
            fname = f.get("name")
            if fname is None:
                continue
            if fname in facts:
                problems.append((f"transitions[{i}].fields[{j}].name",
                                 f"{fname!r} is a fact of the incident; choose another name"))
            if fname in field_names:
                problems.append((f"transitions[{i}].fields[{j}].name", f"duplicate field {fname!r}"))
            field_names[fname] = j
        for key in t.get("sets") or {}:
            if key in facts:
                problems.append((f"transitions[{i}].sets.{key}", f"{key!r} is a fact of the incident; choose another name"))
    for name, state in states.items():
        if state.get("category") == "closed" and state.get("targets"):
            problems.append((f"states.{name}.targets", "a closed state has no response targets"))
    if partial_only or problems or initial not in states:
        return problems
    problems.extend(_check_graph(initial, states, transitions))
    return problems


def _check_graph(initial, states, transitions):
    """Every state reachable, a closed state reachable, no dead end before closing."""
    problems = []
    closed = {n for n, s in states.items() if s["category"] == "closed"}
    if not closed:
        return [("states", "no state of category 'closed'")]

    def targets_from(name):
        for t in transitions:
            if name in t["sources"] or ("*" in t["sources"] and name not in closed):
                yield name if t["to"] == STAY else t["to"]

    reached, queue = {initial}, deque([initial])
    while queue:
        for nxt in targets_from(queue.popleft()):
            if nxt not in reached:
                reached.add(nxt)
                queue.append(nxt)
    if not reached & closed:
        problems.append(("states", f"no closed state is reachable from initial_state {initial!r}"))
    for name in states:
        if name not in reached:
            problems.append((f"states.{name}", f"not reachable from initial_state {initial!r}"))
        elif name not in closed and not any(True for _ in targets_from(name)):
            problems.append((f"states.{name}", "no transition leaves this state (only closed states may end a workflow)"))
    return problems
