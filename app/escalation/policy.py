"""Escalation policies: YAML files in ``workflows/policies/``, validated like the workflows.

A policy has levels (recipients by role, by e-mail and optionally the assignee; channels;
acknowledge_within; repeat_every / max_repeats; external) and triggers (filing at a
severity, a state's response target passing, a deadline reaching a share of its period).
A workflow names its policy (``escalation_policy: default``). An invalid file stops the
service at start with the file, the path inside it, the line and the problem
(``flask escalation check`` prints the same).
"""
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, has_app_context
from marshmallow import RAISE, Schema, ValidationError, fields, validate as v, validates_schema

from app.orgs.models import ROLES
from app.workflow.definition import Label
from app.workflow.loader import DefinitionError, Problem, _line_of, _parse_yaml
from app.workflow.schema import RULE_ID, SEVERITIES, Duration, LabelSchema, LongLabelSchema, flatten_errors

POLICY_DIR = Path(__file__).resolve().parent.parent.parent / "workflows" / "policies"
EXTENSION_KEY = "escalation_policies"
CHANNEL_NAMES = ("in_app", "email", "webhook")
TRIGGER_KINDS = ("filed", "state_target_passed", "deadline")
DEADLINE_KINDS = ("regulatory", "internal")


@dataclass(frozen=True)
class Level:
    level: int
    key: str
    label: Label
    roles: tuple
    users: tuple
    assignee: bool
    channels: tuple
    acknowledge_within: int | None  # seconds
    repeat_every: int | None  # seconds
    max_repeats: int
    external: bool


@dataclass(frozen=True)
class Trigger:
    event: str
    level: int
    severity: tuple = ()
    kinds: tuple = ("regulatory",)
    at_percent: int | None = None


@dataclass(frozen=True)
class Policy:
    id: str
    version: int
    label: Label
    description: Label
    levels: dict  # level number -> Level
    triggers: tuple
    authorities: dict  # rule id -> Label

    def level(self, number):
        return self.levels.get(number)

    def next_level(self, number):
        """The next internal level above ``number`` (external levels are never reached by silence)."""
        higher = sorted(n for n, lvl in self.levels.items() if n > number and not lvl.external)
        return self.levels[higher[0]] if higher else None

    def filing_levels(self, severity):
        return sorted({t.level for t in self.triggers if t.event == "filed" and severity in t.severity})

    def target_levels(self):
        return sorted({t.level for t in self.triggers if t.event == "state_target_passed"})

    def deadline_triggers(self, kind):
        return [t for t in self.triggers if t.event == "deadline" and kind in t.kinds]


class _Base(Schema):
    class Meta:
        unknown = RAISE


class RecipientsSchema(_Base):
    roles = fields.List(fields.String(validate=v.OneOf(ROLES)), load_default=list)
    users = fields.List(fields.Email(), load_default=list)
    assignee = fields.Boolean(load_default=False)


class LevelSchema(_Base):
    level = fields.Integer(required=True, strict=True, validate=v.Range(1, 9))
    key = fields.String(required=True, validate=v.Regexp(RULE_ID))
    label = fields.Nested(LabelSchema, required=True)
    recipients = fields.Nested(RecipientsSchema, load_default=dict)
    channels = fields.List(fields.String(validate=v.OneOf(CHANNEL_NAMES)), required=True,
                           validate=v.Length(min=1))
    acknowledge_within = Duration(load_default=None)
    repeat_every = Duration(load_default=None)
    max_repeats = fields.Integer(strict=True, validate=v.Range(0, 100), load_default=6)
    external = fields.Boolean(load_default=False)

    @validates_schema
    def _external(self, data, **kwargs):
        if data.get("external") and data.get("acknowledge_within"):
            raise ValidationError("an external level is never escalated past: no acknowledge_within",
                                  "acknowledge_within")


class TriggerSchema(_Base):
    event = fields.String(required=True, validate=v.OneOf(TRIGGER_KINDS))
    level = fields.Integer(required=True, strict=True)
    severity = fields.List(fields.String(validate=v.OneOf(SEVERITIES)), load_default=list)
    kinds = fields.List(fields.String(validate=v.OneOf(DEADLINE_KINDS)), load_default=lambda: ["regulatory"])
    at_percent = fields.Integer(strict=True, validate=v.Range(1, 100), load_default=None)

    @validates_schema
    def _shape(self, data, **kwargs):
        if data["event"] == "filed" and not data.get("severity"):
            raise ValidationError("a filing trigger names the severities it applies to", "severity")
        if data["event"] == "deadline" and data.get("at_percent") is None:
            raise ValidationError("a deadline trigger needs at_percent (1-100; 100 = overdue)", "at_percent")
        if data["event"] != "deadline" and data.get("at_percent") is not None:
            raise ValidationError("only deadline triggers take at_percent", "at_percent")


class PolicySchema(_Base):
    id = fields.String(required=True, validate=v.Regexp(RULE_ID))
    version = fields.Integer(required=True, strict=True, validate=v.Range(min=1))
    label = fields.Nested(LabelSchema, required=True)
    description = fields.Nested(LongLabelSchema, load_default=None)
    levels = fields.List(fields.Nested(LevelSchema), required=True, validate=v.Length(min=1))
    triggers = fields.List(fields.Nested(TriggerSchema), required=True)
    authorities = fields.Dict(keys=fields.String(validate=v.Regexp(RULE_ID)), values=fields.Nested(LabelSchema),
                              load_default=dict)


def validate(document):
    """``(data, [(path, message)])`` for a parsed policy document."""
    if not isinstance(document, dict):
        return None, [("(document)", "The document must be a mapping (id, version, levels, triggers, ...).")]
    try:
        data = PolicySchema().load(document)
    except ValidationError as exc:
        return None, flatten_errors(exc.messages)
    problems = []
    numbers = {}
    for i, level in enumerate(data["levels"]):
        if level["level"] in numbers:
            problems.append((f"levels[{i}].level", f"level {level['level']} is defined twice"))
        numbers[level["level"]] = level
    for i, trigger in enumerate(data["triggers"]):
        if trigger["level"] not in numbers:
            problems.append((f"triggers[{i}].level", f"unknown level {trigger['level']}"))
    return data, problems


def _label(data):
    return Label(en=data["en"], ja=data["ja"]) if data else Label(en="", ja="")


def build(data):
    levels = {}
    for item in data["levels"]:
        r = item["recipients"] or {}
        levels[item["level"]] = Level(
            level=item["level"], key=item["key"], label=_label(item["label"]),
            roles=tuple(r.get("roles", ())), users=tuple(u.lower() for u in r.get("users", ())),
            assignee=bool(r.get("assignee")), channels=tuple(dict.fromkeys(item["channels"])),
            acknowledge_within=item["acknowledge_within"], repeat_every=item["repeat_every"],
            max_repeats=item["max_repeats"], external=item["external"],
        )
    triggers = tuple(Trigger(event=t["event"], level=t["level"], severity=tuple(t["severity"]),
                             kinds=tuple(t["kinds"]), at_percent=t["at_percent"]) for t in data["triggers"])
    return Policy(id=data["id"], version=data["version"], label=_label(data["label"]),
                  description=_label(data["description"]), levels=levels, triggers=triggers,
                  authorities={k: _label(val) for k, val in data["authorities"].items()})


def load_text(text, source="<text>"):
    if not isinstance(text, str) or not text.strip():
        raise DefinitionError(source, [Problem("(document)", "The policy is empty.")])
    document, lines, duplicates = _parse_yaml(text, source)
    data, problems = validate(document)
    found = list(duplicates) + [Problem(path, message, _line_of(path, lines)) for path, message in problems]
    if found:
        raise DefinitionError(source, found)
    return build(data)


def load_file(path):
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(path, [Problem("(file)", f"cannot read the file: {exc}")]) from None
    return load_text(text, str(path))


def load_folder(folder=POLICY_DIR):
    """Every policy in ``folder`` by id (DefinitionError on the first invalid file or a duplicate id)."""
    policies = {}
    for path in sorted(Path(folder).glob("*.y*ml")):
        policy = load_file(path)
        if policy.id in policies:
            raise DefinitionError(path, [Problem("id", f"policy {policy.id!r} is defined twice")])
        policies[policy.id] = policy
    return policies


_module_policies = None


def init_app(app):
    """Load the policies and check every workflow's ``escalation_policy`` names one."""
    from app.workflow import loader

    policies = load_folder(app.config.get("ESCALATION_POLICY_DIR") or POLICY_DIR)
    app.extensions[EXTENSION_KEY] = policies
    for definition in app.extensions.get(loader.EXTENSION_KEY, {}).values():
        name = getattr(definition, "escalation_policy", None)
        if name and name not in policies:
            raise DefinitionError(definition.source, [Problem("escalation_policy", f"unknown policy {name!r}")])


def policies():
    global _module_policies
    if has_app_context() and EXTENSION_KEY in current_app.extensions:
        return current_app.extensions[EXTENSION_KEY]
    if _module_policies is None:
        _module_policies = load_folder()
    return _module_policies


def for_workflow(definition):
    """The policy a workflow definition names (the default policy when it names none)."""
    all_policies = policies()
    name = getattr(definition, "escalation_policy", None) or "default"
    return all_policies.get(name) or all_policies.get("default")
