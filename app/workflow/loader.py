"""Loads workflow definitions (YAML -> validated :class:`Definition`) and keeps the registry.

- :func:`load_text` / :func:`load_file` parse and validate one document; a problem raises
  :class:`DefinitionError` naming the file, the path inside the document, the line and the
  problem (YAML syntax errors included).
- :func:`init_app` loads every ``workflows/*.yaml`` (top level only: ``rules/`` and
  ``policies/`` belong to other engines) into ``app.extensions["workflows"]``; any invalid
  file, or not exactly one ``default: true``, stops the service.
- :func:`shipped`, :func:`get_definition` and :func:`select_for` are the registry the engine,
  the deadline engine and the incident service call.
"""
from dataclasses import dataclass, replace
from pathlib import Path

import yaml
from flask import current_app

from app.workflow import schema
from app.workflow.definition import (
    Conditions, Definition, FieldSpec, Guard, Label, Selector, State, Transition, is_serious,
)

ROOT = Path(__file__).resolve().parent.parent.parent
SHIPPED_DIR = ROOT / "workflows"
EXTENSION_KEY = "workflows"
_CACHE_KEY = "workflow_org_cache"


@dataclass(frozen=True)
class Problem:
    """One problem of a definition: where in the document, what, and on which line."""

    path: str
    message: str
    line: int = None

    def __str__(self):
        return f"{self.path}: {self.message}" + (f" (line {self.line})" if self.line else "")


class DefinitionError(ValueError):
    """An invalid workflow definition; ``str()`` names the file, the path and each problem."""

    def __init__(self, source, problems):
        self.source = str(source)
        self.problems = list(problems)
        super().__init__("\n".join(f"{self.source}: {p}" for p in self.problems))

    def messages(self):
        """The problems without the file name (``path: message (line n)``), for forms."""
        return [str(p) for p in self.problems]


# --- parsing -----------------------------------------------------------------------------


def _parse_yaml(text, source):
    """The document and an index ``path -> line`` (1-based); duplicate keys are problems."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        detail = " ".join(str(x) for x in (getattr(exc, "context", None), getattr(exc, "problem", None)) if x)
        where = f" at column {mark.column + 1}" if mark is not None else ""
        raise DefinitionError(source, [Problem("(yaml)", f"YAML syntax error{where}: {detail or exc}", line)]) from None
    lines, duplicates = {}, []
    if node is not None:
        _index(node, "", lines, duplicates)
    return document, lines, duplicates


def _index(node, path, lines, duplicates):
    lines.setdefault(path or "(document)", node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            key = key_node.value
            child = f"{path}.{key}" if path else str(key)
            if key in seen:
                duplicates.append(Problem(child, f"duplicate key {key!r}", key_node.start_mark.line + 1))
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _index(value_node, child, lines, duplicates)
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, f"{path}[{i}]", lines, duplicates)


def _line_of(path, lines):
    """The line of ``path``, else of its nearest parent present in the document."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return None  # a key missing at the top level: no line to point at


def load_text(text, source="<text>", *, version=None):
    """Parse and validate a YAML definition; ``version`` overrides the document's (org copies)."""
    if not isinstance(text, str) or not text.strip():
        raise DefinitionError(source, [Problem("(document)", "The definition is empty.")])
    document, lines, duplicates = _parse_yaml(text, source)
    data, problems = schema.validate(document)
    found = list(duplicates) + [Problem(path, message, _line_of(path, lines)) for path, message in problems]
    if found:
        raise DefinitionError(source, found)
    definition = build(data, source=str(source), yaml_text=text)
    if version is not None:
        definition = replace(definition, version=version)
    return definition


def load_file(path):
    """Load and validate one YAML file (DefinitionError names the file)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(path, [Problem("(file)", f"cannot read the file: {exc}")]) from None
    return load_text(text, _display(path))


def _display(path):
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def definition_files(folder):
    """The ``*.yaml`` / ``*.yml`` files directly in ``folder`` (subfolders ignored), sorted."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def load_folder(folder):
    """Load every definition of a folder: ``({id: Definition}, [error message])``.

    Besides each file's own problems, checks the set: ids are unique and exactly one
    definition is ``default: true``.
    """
    definitions, errors, where = {}, [], {}
    files = definition_files(folder) if Path(folder).is_dir() else []
    if not files:
        errors.append(f"{_display(folder)}: no workflow definitions (*.yaml) found")
    for path in files:
        try:
            definition = load_file(path)
        except DefinitionError as exc:
            errors.extend(str(exc).splitlines())
            continue
        if definition.id in definitions:
            errors.append(f"{definition.source}: id: {definition.id!r} is already defined in {where[definition.id]}")
            continue
        definitions[definition.id] = definition
        where[definition.id] = definition.source
    errors.extend(check_set(definitions, complete=not errors))
    known = known_rule_ids()
    for definition in definitions.values():
        errors.extend(f"{definition.source}: {p}" for p in unknown_rules(definition, known))
    return definitions, errors


def known_rule_ids():
    """Ids of the shipped deadline rules (None when the rules file cannot be read: its own check reports it)."""
    try:
        from app.incidents import deadlines

        return set(deadlines.shipped_rules())
    except Exception:  # noqa: BLE001 - the rules loader names its own problems at start
        return None


def unknown_rules(definition, known):
    """Problems for ``meets`` and ``deadlines_met`` naming no shipped deadline rule."""
    if not known:
        return []
    problems = []

    def walk(guards, path):
        for k, guard in enumerate(guards):
            for m, rule in enumerate(guard.deadlines_met or ()):
                if rule not in known:
                    problems.append(f"{path}[{k}].deadlines_met[{m}]: unknown deadline rule {rule!r}")
            walk(guard.any or (), f"{path}[{k}].any")

    for i, t in enumerate(definition.transitions):
        for j, rule in enumerate(t.meets):
            if rule not in known:
                problems.append(f"transitions[{i}].meets[{j}]: unknown deadline rule {rule!r} "
                                f"(known: {', '.join(sorted(known))})")
        walk(t.guards, f"transitions[{i}].guards")
    return problems


def check_set(definitions, complete=True):
    """Problems of a set of definitions: exactly one default (``complete``: all files loaded)."""
    defaults = [d for d in definitions.values() if d.applies_to.default]
    if len(defaults) > 1:
        names = ", ".join(f"{d.id} ({d.source})" for d in defaults)
        return [f"applies_to.default: exactly one workflow may be the default; found {len(defaults)}: {names}"]
    if not defaults and complete and definitions:
        return ["applies_to.default: no workflow is the default (set applies_to.default: true on exactly one)"]
    return []


# --- building the dataclasses ----------------------------------------------------------------


def _label(d):
    return Label(en=d["en"], ja=d["ja"]) if d else None


def _conditions(d):
    d = d or {}
    return Conditions(
        kinds=tuple(d["kinds"]) if "kinds" in d else None,
        severities=tuple(d["severities"]) if "severities" in d else None,
        jurisdictions_any=tuple(d["jurisdictions_any"]) if "jurisdictions_any" in d else None,
        personal_data=d.get("personal_data"),
        serious=d.get("serious"),
    )


def _guard(d):
    return Guard(
        deadlines_met=tuple(d["deadlines_met"]) if "deadlines_met" in d else None,
        facts=_conditions(d["facts"]) if "facts" in d else None,
        ministry_request_linked=d.get("ministry_request_linked"),
        any=tuple(_guard(g) for g in d["any"]) if "any" in d else None,
    )


def build(data, *, source="", yaml_text=""):
    """The frozen Definition of validated schema data."""
    states = {
        name: State(name=name, category=s["category"], label=_label(s["label"]), targets=dict(s.get("targets") or {}))
        for name, s in data["states"].items()
    }
    transitions = tuple(
        Transition(
            name=t["name"], sources=tuple(t["sources"]), to=t["to"], label=_label(t["label"]),
            roles=tuple(t["roles"]),
            fields=tuple(
                FieldSpec(name=f["name"], type=f["type"], required=f.get("required", False), label=_label(f["label"]),
                          options=tuple(f.get("options") or ()), help=_label(f.get("help")),
                          option_labels={k: _label(v) for k, v in (f.get("option_labels") or {}).items()})
                for f in t.get("fields_") or ()
            ),
            guards=tuple(_guard(g) for g in t.get("guards") or ()),
            meets=tuple(t.get("meets") or ()),
            sets=dict(t.get("sets") or {}),
        )
        for t in data["transitions"]
    )
    sel = data.get("applies_to") or {}
    return Definition(
        id=data["id"], version=data["version"], label=_label(data["label"]), description=_label(data["description"]),
        initial_state=data["initial_state"], states=states, transitions=transitions,
        applies_to=Selector(priority=sel.get("priority", 0), default=sel.get("default", False),
                            when=_conditions(sel.get("when"))),
        escalation_policy=data.get("escalation_policy"), source=source, yaml_text=yaml_text,
    )


# --- the registry --------------------------------------------------------------------------


def init_app(app):
    """Load and validate the shipped definitions into ``app.extensions["workflows"]`` (stops on error)."""
    folder = Path(app.config.get("WORKFLOWS_DIR") or SHIPPED_DIR)
    definitions, errors = load_folder(folder)
    if errors:
        raise RuntimeError("invalid workflow definitions, the service cannot start:\n" + "\n".join(
            f"  {e}" for e in errors))
    app.extensions[EXTENSION_KEY] = definitions
    app.extensions[_CACHE_KEY] = {}


def shipped():
    """The shipped definitions of the running app: ``{id: Definition}``."""
    return current_app.extensions[EXTENSION_KEY]


def default_definition():
    """The shipped definition marked ``default: true``."""
    return next(d for d in shipped().values() if d.applies_to.default)


_ROWS_MEMO = "org_workflow_rows"


def _org_rows(org_id, name=None, version=None):
    """The organisation's stored copies (every version), read once per request."""
    from flask import g, has_request_context
    from sqlalchemy import select

    from app.extensions import db
    from app.workflow.models import OrgWorkflow

    memo = g.setdefault(_ROWS_MEMO, {}) if has_request_context() else None
    rows = memo.get(org_id) if memo is not None else None
    if rows is None:
        # Explicitly filtered by organisation: callable from jobs and services whatever the scope.
        stmt = (select(OrgWorkflow).where(OrgWorkflow.org_id == org_id).execution_options(all_orgs=True)
                .order_by(OrgWorkflow.name, OrgWorkflow.version))
        rows = list(db.session.execute(stmt).scalars())
        if memo is not None:
            memo[org_id] = rows
    return [r for r in rows if (name is None or r.name == name) and (version is None or r.version == version)]


def forget_org_rows(org_id):
    """Drop this request's memo of the organisation's copies (after a copy is written)."""
    from flask import g, has_request_context

    if has_request_context():
        g.setdefault(_ROWS_MEMO, {}).pop(org_id, None)


def parse_org_row(row):
    """The Definition of a stored org copy (cached by organisation, name and version)."""
    cache = current_app.extensions.setdefault(_CACHE_KEY, {})
    key = (row.org_id, row.name, row.version)
    found = cache.get(key)
    if found is not None and found.yaml_text == row.yaml_text:
        return found
    definition = load_text(row.yaml_text, f"org:{row.org_id}/{row.name} v{row.version}", version=row.version)
    cache[key] = definition
    return definition


def get_definition(*, org_id, workflow_id, version):
    """The definition an incident runs: the org's copy of that name and version, else shipped."""
    if org_id is not None and workflow_id is not None:
        rows = _org_rows(org_id, workflow_id, version)
        if rows:
            return parse_org_row(rows[-1])
    defs = shipped()
    found = defs.get(workflow_id)
    if found is not None:
        return found
    return default_definition()


def latest_org_rows(org_id):
    """The latest version row of each of the organisation's copies: ``{name: OrgWorkflow}``."""
    latest = {}
    for row in _org_rows(org_id):
        latest[row.name] = row  # ordered by version, so the last one wins
    return latest


def candidates(org_id):
    """The definitions selection chooses from: shipped ones, replaced by the org's active latest copies."""
    defs = dict(shipped())
    if org_id is not None:
        for name, row in latest_org_rows(org_id).items():
            if not row.active:
                continue
            try:
                defs[name] = parse_org_row(row)
            except DefinitionError:
                continue  # never stored invalid; a changed schema must not stop filing
    return defs


def select_for(incident):
    """The workflow for a new incident and why: ``(Definition, {"en": ..., "ja": ...})``.

    Deterministic: among non-default definitions whose ``applies_to.when`` matches, the
    highest priority wins, ties broken by id; none matches: the default.
    """
    defs = candidates(getattr(incident, "org_id", None))
    matching = [d for d in defs.values() if not d.applies_to.default and d.applies_to.when.matches(incident)]
    if matching:
        chosen = sorted(matching, key=lambda d: (-d.applies_to.priority, d.id))[0]
        return chosen, _reason_match(chosen, incident, defs)
    default_id = default_definition().id
    # An organisation may make its own copy (under a new id) its default.
    org_defaults = sorted(d.id for d in defs.values()
                          if d.applies_to.default and d.id != default_id and d.source.startswith("org:"))
    chosen = defs[org_defaults[0]] if org_defaults else defs.get(default_id) or default_definition()
    return chosen, _reason_default(chosen)


_KIND_TEXT = {
    "incident": ("an AI incident", "AIインシデント"),
    "hazard": ("an AI hazard", "AIハザード"),
    "near_miss": ("a near miss", "ニアミス"),
}


def describe_conditions(when, incident=None):
    """The conditions as phrases ``[(en, ja)]`` (with the incident's own values when given)."""
    parts = []
    if when.kinds is not None:
        kind = getattr(incident, "kind", None) if incident is not None else None
        kinds = [kind] if kind in when.kinds else list(when.kinds)
        en = " or ".join(_KIND_TEXT.get(k, (k, k))[0] for k in kinds)
        ja = "または".join(_KIND_TEXT.get(k, (k, k))[1] for k in kinds)
        parts.append((f"is {en}", f"{ja}である"))
    if when.severities is not None:
        sev = getattr(incident, "severity", None) if incident is not None else None
        sevs = [sev] if sev in when.severities else list(when.severities)
        text = "/".join(s.upper() for s in sevs)
        parts.append((f"has severity {text}", f"重大度が{text}である"))
    if when.jurisdictions_any is not None:
        mine = [j for j in (getattr(incident, "jurisdictions", None) or []) if j in when.jurisdictions_any] \
            if incident is not None else []
        text = "/".join(mine or when.jurisdictions_any)
        en = "the EU" if text == "EU" else text
        ja = {"EU": "EU", "JP": "日本"}.get(text, text)
        parts.append((f"is in {en}", f"{ja}に関係する"))
    if when.personal_data is not None:
        parts.append(("involves personal data", "個人データが関係する") if when.personal_data
                     else ("involves no personal data", "個人データが関係しない"))
    if when.serious is not None:
        parts.append(("is a serious incident", "重大インシデントである") if when.serious
                     else ("is not a serious incident", "重大インシデントではない"))
    return parts


def _origin(definition):
    if definition.source.startswith("org:"):
        return f" (your organisation's copy, version {definition.version})", f"（組織のコピー、バージョン{definition.version}）"
    return "", ""


def _reason_match(definition, incident, defs):
    parts = describe_conditions(definition.applies_to.when, incident)
    en = " and ".join(p[0] for p in parts) or "matches every incident"
    ja = "、かつ".join(p[1] for p in parts) or "すべてのインシデントに該当する"
    prio = definition.applies_to.priority
    o_en, o_ja = _origin(definition)
    return {
        "en": f"{definition.id}{o_en} because the incident {en} (priority {prio})",
        "ja": f"{definition.id}{o_ja}: インシデントが{ja}ため（優先度{prio}）",
    }


def _reason_default(definition):
    o_en, o_ja = _origin(definition)
    return {
        "en": f"{definition.id}{o_en}: the default workflow, because no other workflow applies to this incident",
        "ja": f"{definition.id}{o_ja}: 他に該当するワークフローがないため、既定のワークフロー",
    }


__all__ = [
    "DefinitionError", "Problem", "load_text", "load_file", "load_folder", "init_app", "shipped",
    "get_definition", "select_for", "candidates", "default_definition", "describe_conditions", "is_serious",
]
