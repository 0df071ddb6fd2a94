"""Organisations' copies of workflow definitions: copy, edit (a new version each time), list.

Copies are validated by the same loader as the shipped files; an invalid text is never
stored. Every save is a new ``OrgWorkflow`` row, so an incident keeps the version it started
on (``loader.get_definition`` finds it by name and version).
"""
import re

from sqlalchemy import select

from app.db import transaction
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.tenancy import current_org_id
from app.workflow import loader
from app.workflow.models import OrgWorkflow

ADMIN_ROLES = ("admin",)
_ID_LINE = re.compile(r"^id:[ \t]*\S.*$", re.MULTILINE)
_VERSION_LINE = re.compile(r"^version:[ \t]*\S.*$", re.MULTILINE)


def _require_admin(actor):
    if getattr(actor, "role", None) not in ADMIN_ROLES:
        raise Forbidden("Only administrators manage workflows.")


def _rows(name=None):
    stmt = select(OrgWorkflow).order_by(OrgWorkflow.name, OrgWorkflow.version)
    if name is not None:
        stmt = stmt.where(OrgWorkflow.name == name)
    return list(db.session.execute(stmt).scalars())


def _validate(text, name, version):
    """The Definition of ``text`` or ValidationFailed with each problem and its path."""
    try:
        definition = loader.load_text(text, f"{name} v{version}", version=version)
    except loader.DefinitionError as exc:
        raise ValidationFailed({"yaml_text": exc.messages()}) from None
    if definition.id != name:
        raise ValidationFailed({"yaml_text": [
            f"id: must stay {name!r}, the name of this copy (copy another workflow to make a new one)"]})
    return definition


def copy_workflow(*, actor, workflow_id, name=None):
    """Copy a shipped workflow into the organisation (version 1); ``name`` gives the copy a new id.

    Copying never changes what new incidents get: a same-name copy is identical to what it
    replaces, and a copy under a new name starts inactive (``set_active`` turns it on).
    """
    _require_admin(actor)
    source = loader.shipped().get(workflow_id)
    if source is None:
        raise NotFound("Not found.")
    name = name or source.id
    text = source.yaml_text
    if name != source.id:
        if not loader.schema.WORKFLOW_ID.match(name):
            raise ValidationFailed({"name": ["Lower case letters, digits and -, 2 to 64 characters."]})
        text = _ID_LINE.sub(f"id: {name}", text, count=1)
        text = re.sub(r"^(applies_to:\s*\n(?:[ \t]+.*\n)*?[ \t]+default:[ \t]*)true", r"\1false", text,
                      count=1, flags=re.MULTILINE)
    if name in loader.shipped() and name != source.id:
        raise Conflict("A shipped workflow has that name.", {"name": ["Already used."]})
    definition = _validate(text, name, 1)
    with transaction() as s:
        if _rows(name):
            raise Conflict("The organisation already has a copy of this workflow.", {"name": ["Already copied."]})
        row = OrgWorkflow(org_id=actor.org_id, name=definition.id, version=1, yaml_text=text,
                          based_on=source.id, active=name == source.id, created_by_id=actor.id)
        s.add(row)
        s.flush()
        import hashlib

        from app.ledger import service as ledger

        ledger.record("workflow_copied", actor=actor, subject=row, payload={
            "name": row.name, "version": row.version, "based_on": row.based_on, "active": row.active,
            "yaml_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()})
    loader.forget_org_rows(actor.org_id)
    return row


def save_workflow(*, actor, workflow_id, yaml_text):
    """Store an edited copy as a new version (``workflow_id``: any version row of the copy)."""
    _require_admin(actor)
    current = get_org_workflow(workflow_id)
    text = (yaml_text or "").replace("\r\n", "\n")
    with transaction() as s:
        latest = _rows(current.name)[-1]
        version = latest.version + 1
        _validate(text, current.name, version)
        # The new version keeps the copy's on/off state.
        row = OrgWorkflow(org_id=actor.org_id, name=current.name, version=version, yaml_text=text,
                          based_on=current.based_on, active=latest.active, created_by_id=actor.id)
        s.add(row)
        s.flush()
        import hashlib

        from app.ledger import service as ledger

        ledger.record("workflow_edited", actor=actor, subject=row, payload={
            "name": row.name, "version": row.version, "based_on": row.based_on, "active": row.active,
            "yaml_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()})
    loader.forget_org_rows(actor.org_id)
    return row


def set_active(*, actor, workflow_id, active):
    """Turn a copy on or off for selection (its latest version row carries the flag)."""
    _require_admin(actor)
    current = get_org_workflow(workflow_id)
    with transaction():
        latest = _rows(current.name)[-1]
        was_active = latest.active
        latest.active = bool(active)
        from app.ledger import service as ledger

        ledger.record("workflow_activated" if active else "workflow_deactivated", actor=actor, subject=latest,
                      payload={"name": latest.name, "version": latest.version, "was_active": bool(was_active)})

    loader.forget_org_rows(actor.org_id)
    return latest


def get_org_workflow(workflow_id):
    """One stored version of the organisation's copies by row id (NotFound otherwise)."""
    if current_org_id() is None:
        raise NotFound("Not found.")
    row = db.session.execute(select(OrgWorkflow).where(OrgWorkflow.id == workflow_id)).scalar_one_or_none()
    if row is None:
        raise NotFound("Not found.")
    return row


def history(workflow_id):
    """Every version of the copy that row ``workflow_id`` belongs to, newest first."""
    row = get_org_workflow(workflow_id)
    return list(reversed(_rows(row.name)))


def latest_row(workflow_id):
    """The latest version row of the copy that row ``workflow_id`` belongs to."""
    return history(workflow_id)[0]


def definition_of(row):
    """The Definition of a stored row (None when it no longer validates)."""
    try:
        return loader.parse_org_row(row)
    except loader.DefinitionError:
        return None


def list_workflows():
    """The organisation's workflows: shipped and copies, latest version each, as dicts.

    Each item: ``name``, ``definition``, ``shipped`` (bool), ``row`` (latest OrgWorkflow or
    None), ``replaced_by_copy`` (a shipped one the organisation's active copy replaces),
    ``applies`` (``[(en, ja)]`` phrases), ``priority``, ``default``.
    """
    latest = {}
    for row in _rows():
        latest[row.name] = row
    items = []
    for name, definition in sorted(loader.shipped().items()):
        copy = latest.get(name)
        items.append(_item(definition, shipped=True, row=None,
                           replaced=copy is not None and copy.active))
    for name, row in sorted(latest.items()):
        items.append(_item(definition_of(row), shipped=False, row=row, replaced=False, name=name))
    return items


def _item(definition, *, shipped, row, replaced, name=None):
    return {
        "name": name or definition.id,
        "definition": definition,
        "shipped": shipped,
        "row": row,
        "replaced_by_copy": replaced,
        "active": row.active if row is not None else not replaced,
        "applies": loader.describe_conditions(definition.applies_to.when) if definition else [],
        "priority": definition.applies_to.priority if definition else None,
        "default": definition.applies_to.default if definition else False,
    }


def selection_reason(*, incident, events=None):
    """Why the incident follows its workflow (``{"en", "ja"}`` recorded at filing), or None."""
    from app.incidents.models import TimelineEvent

    if events is None:
        stmt = (select(TimelineEvent).where(TimelineEvent.incident_id == incident.id, TimelineEvent.action == "filed")
                .order_by(TimelineEvent.id).limit(1))
        events = list(db.session.execute(stmt).scalars())
    for event in events:
        if event.action == "filed" and isinstance(event.data, dict) and event.data.get("workflow_reason"):
            return event.data["workflow_reason"]
    return None
