"""The format of deadline rules (the shipped rules file and organisations' own rules).

A rule is data: an id, labels, a source, a time zone, a condition tree over an
incident's facts and a period (``{days: N}`` or ``{hours: N}``), with overrides whose
shortest applicable period replaces the base one. Validated with marshmallow; a
problem is reported as ``file: path: message`` (the path inside the document, e.g.
``rules[2].when.all[0].fact``).
"""
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.incidents import vocab

RULE_KINDS = ("regulatory", "internal")
RULE_ID = r"^[a-z0-9][a-z0-9-]{0,47}$"
MAX_DAYS = 3650
MAX_HOURS = 24 * 366
MAX_DEPTH = 8

# Facts a condition may test, with their type.
FACTS = {
    "jurisdictions": "list",
    "personal_data": "bool",
    "deaths": "int",
    "serious_incident": "bool",
    "critical_infrastructure": "bool",
    "widespread_infringement": "bool",
    "wrongful_purpose": "bool",
    "severity": "str",
    "kind": "str",
    "ministry_request_linked": "bool",
}
# Values a str/list fact may take (so a typo such as "sev 1" is caught at load).
FACT_VALUES = {"jurisdictions": vocab.JURISDICTIONS, "severity": vocab.SEVERITIES, "kind": vocab.KINDS}
# Operators allowed per fact type.
OPERATORS = {
    "bool": ("is",),
    "int": ("is", "gt", "gte", "lt", "lte", "in"),
    "str": ("is", "in"),
    "list": ("contains", "any_of"),
}
ALL_OPERATORS = ("is", "contains", "any_of", "in", "gt", "gte", "lt", "lte")


class RulesFileError(Exception):
    """An invalid rules file or rule: names the file, the path inside it and the problem."""

    def __init__(self, file, problems):
        self.file = str(file)
        self.problems = problems  # [(path, message)]
        lines = [f"{self.file}: {path or '(top)'}: {message}" for path, message in problems]
        super().__init__("invalid deadline rules:\n  " + "\n  ".join(lines))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def condition_errors(node, depth=0):
    """The problems of a condition tree as a nested dict (marshmallow's error shape); {} when valid."""
    if depth > MAX_DEPTH:
        return {"_schema": [f"Nested deeper than {MAX_DEPTH} levels."]}
    if not isinstance(node, dict):
        return {"_schema": ["Must be a mapping: {all: [...]}, {any: [...]}, {not: ...} or {fact: ..., <operator>: ...}."]}
    for combinator in ("all", "any"):
        if combinator in node:
            extra = set(node) - {combinator}
            if extra:
                return {k: ["Unknown field."] for k in sorted(extra)}
            items = node[combinator]
            if not isinstance(items, list) or not items:
                return {combinator: ["Must be a non-empty list of conditions."]}
            errors = {}
            for i, item in enumerate(items):
                sub = condition_errors(item, depth + 1)
                if sub:
                    errors[i] = sub
            return {combinator: errors} if errors else {}
    if "not" in node:
        extra = set(node) - {"not"}
        if extra:
            return {k: ["Unknown field."] for k in sorted(extra)}
        sub = condition_errors(node["not"], depth + 1)
        return {"not": sub} if sub else {}
    if "fact" not in node:
        return {"_schema": ["A condition needs 'all', 'any', 'not' or 'fact'."]}
    fact = node["fact"]
    if fact not in FACTS:
        return {"fact": [f"Unknown fact {fact!r}. Known: {', '.join(FACTS)}."]}
    ops = [k for k in node if k != "fact"]
    unknown = [k for k in ops if k not in ALL_OPERATORS]
    if unknown:
        return {k: ["Unknown field."] for k in unknown}
    if len(ops) != 1:
        return {"_schema": ["Give exactly one operator: " + ", ".join(ALL_OPERATORS) + "."]}
    op, value = ops[0], node[ops[0]]
    kind = FACTS[fact]
    if op not in OPERATORS[kind]:
        return {op: [f"Not an operator for {fact} (use {', '.join(OPERATORS[kind])})."]}
    allowed = FACT_VALUES.get(fact)
    if kind == "bool" and not isinstance(value, bool):
        return {op: ["Must be true or false."]}
    if kind == "int":
        values = value if op == "in" else [value]
        if op == "in" and (not isinstance(value, list) or not value):
            return {op: ["Must be a non-empty list of whole numbers."]}
        if not all(_is_int(v) for v in values):
            return {op: ["Must be a whole number."]}
    if kind in ("str", "list"):
        listed = op in ("in", "any_of")
        if listed and (not isinstance(value, list) or not value):
            return {op: ["Must be a non-empty list."]}
        values = value if listed else [value]
        bad = [v for v in values if not isinstance(v, str) or (allowed and v not in allowed)]
        if bad:
            return {op: [f"Unknown value(s) {', '.join(map(str, bad))}. Allowed: {', '.join(allowed)}."]}
    return {}


class ConditionField(fields.Field):
    """A condition tree (validated recursively; kept as plain data)."""

    def _deserialize(self, value, attr, data, **kwargs):
        errors = condition_errors(value)
        if errors:
            raise ValidationError(errors)
        return value


class LabelSchema(Schema):
    """A text in English and Japanese."""

    en = fields.Str(required=True, validate=validate.Length(min=1, max=200))
    ja = fields.Str(required=True, validate=validate.Length(min=1, max=200))


class TextSchema(Schema):
    """A longer text in English and Japanese."""

    en = fields.Str(required=True, validate=validate.Length(max=2000))
    ja = fields.Str(required=True, validate=validate.Length(max=2000))


class PeriodSchema(Schema):
    """``{days: N}`` (calendar days, counted as the law counts) or ``{hours: N}`` (exact)."""

    days = fields.Int(strict=True, validate=validate.Range(1, MAX_DAYS))
    hours = fields.Int(strict=True, validate=validate.Range(1, MAX_HOURS))

    @validates_schema
    def _exactly_one(self, data, **kwargs):
        if len(data) != 1:
            raise ValidationError("Give exactly one of days or hours.")


class OverrideSchema(Schema):
    """A period that replaces the base one when its condition holds."""

    when = ConditionField(required=True)
    period = fields.Nested(PeriodSchema, required=True)


def _timezone(value):
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"Unknown time zone {value!r} (use an IANA name such as Asia/Tokyo).") from None


class RuleSchema(Schema):
    """One deadline rule."""

    id = fields.Str(required=True, validate=validate.Regexp(
        RULE_ID, error="Lower-case letters, digits and hyphens, at most 48 characters."))
    kind = fields.Str(load_default="regulatory", validate=validate.OneOf(RULE_KINDS))
    label = fields.Nested(LabelSchema, required=True)
    description = fields.Nested(TextSchema, load_default=None)
    source = fields.Str(required=True, validate=validate.Length(min=1, max=300))
    timezone = fields.Str(required=True, validate=_timezone)
    when = ConditionField(load_default=None, metadata={"description": "Omitted: applies to every incident"})
    period = fields.Nested(PeriodSchema, required=True)
    overrides = fields.List(fields.Nested(OverrideSchema), load_default=list)
    org_may_override = fields.Bool(load_default=False)


class RulesFileSchema(Schema):
    """The rules file: a version and a list of rules with unique ids."""

    version = fields.Int(required=True, strict=True, validate=validate.Range(min=1))
    rules = fields.List(fields.Nested(RuleSchema), required=True, validate=validate.Length(min=1))

    @validates_schema
    def _unique_ids(self, data, **kwargs):
        seen = set()
        for i, rule in enumerate(data.get("rules") or []):
            if rule.get("when") is None:
                raise ValidationError({"rules": {i: {"when": ["Missing data for required field."]}}})
            if rule["id"] in seen:
                raise ValidationError({"rules": {i: {"id": [f"Duplicate rule id {rule['id']!r}."]}}})
            seen.add(rule["id"])


def flatten_errors(errors, prefix=""):
    """marshmallow's nested error dict as [(path, message)], e.g. ``rules[2].period.days``."""
    out = []
    if isinstance(errors, list):
        for message in errors:
            if isinstance(message, (dict, list)):
                out.extend(flatten_errors(message, prefix))
            else:
                out.append((prefix, str(message)))
        return out
    for key, value in errors.items():
        if key == "_schema":
            path = prefix
        elif isinstance(key, int):
            path = f"{prefix}[{key}]"
        else:
            path = f"{prefix}.{key}" if prefix else str(key)
        out.extend(flatten_errors(value, path))
    return out


def parse_rules(text, *, file="<rules>"):
    """Parse and validate a rules document (YAML text); returns the list of rules or raises RulesFileError."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise RulesFileError(file, [(where, f"Not valid YAML: {getattr(exc, 'problem', None) or exc}")]) from None
    if not isinstance(document, dict):
        raise RulesFileError(file, [("", "The document must be a mapping with 'version' and 'rules'.")])
    try:
        loaded = RulesFileSchema().load(document)
    except ValidationError as exc:
        raise RulesFileError(file, flatten_errors(exc.messages)) from None
    return loaded["rules"]


def load_rules_file(path):
    """Read and validate a rules file; returns its rules or raises RulesFileError naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesFileError(path, [("", f"Cannot read the file: {exc.strerror or exc}")]) from None
    return parse_rules(text, file=path)


def validate_rule(data, *, file="org rule"):
    """Validate one rule (an organisation's own); returns it clean or raises RulesFileError."""
    if not isinstance(data, dict):
        raise RulesFileError(file, [("", "A rule must be a mapping.")])
    try:
        return RuleSchema().load(data)
    except ValidationError as exc:
        raise RulesFileError(file, flatten_errors(exc.messages)) from None
