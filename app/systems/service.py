"""The AI system inventory: the only writer of AI system rows."""
from sqlalchemy import func, select

from app.db import transaction
from app.errors import Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.orgs.models import User
from app.systems.models import ACTOR_ROLES, RISK_LEVELS, STATUSES, AISystem


TEXT_LIMITS = {
    "name": 200, "purpose": 5000, "developer": 200, "model_name": 200, "model_version": 100,
    "training_sources": 5000, "deployment_context": 5000,
}
CHOICES = {"actor_role": ACTOR_ROLES, "risk_level": RISK_LEVELS, "status": STATUSES}
FIELDS = tuple(TEXT_LIMITS) + tuple(CHOICES) + ("eu_high_risk", "owner_id")


def _clean(data, *, partial):
    errors, clean = {}, {}
    for key in TEXT_LIMITS:
        if key in data:
            value = data[key]
            if value is None:
                value = ""
            if not isinstance(value, str):
                errors[key] = ["Must be text."]
                continue
            value = value.strip()
            if len(value) > TEXT_LIMITS[key]:
                errors[key] = [f"At most {TEXT_LIMITS[key]} characters."]
            clean[key] = value
    if not partial or "name" in data:
        if not clean.get("name"):
            errors["name"] = ["Required."]
    for key, allowed in CHOICES.items():
        if key in data:
            if data[key] not in allowed:
                errors[key] = [f"Must be one of: {', '.join(allowed)}."]
            else:
                clean[key] = data[key]
    if "eu_high_risk" in data:
        if not isinstance(data["eu_high_risk"], bool):
            errors["eu_high_risk"] = ["Must be true or false."]
        else:
            clean["eu_high_risk"] = data["eu_high_risk"]
    if "owner_id" in data:
        owner_id = data["owner_id"]
        if owner_id in (None, ""):
            clean["owner_id"] = None
        else:
            owner = db.session.execute(select(User).where(User.id == owner_id)).scalar_one_or_none()
            if owner is None:
                errors["owner_id"] = ["Not found."]
            else:
                clean["owner_id"] = owner.id
    if errors:
        raise ValidationFailed(errors)
    return clean


EDITOR_ROLES = ("lead", "admin")


def can_edit(actor):
    """Leads and admins keep the inventory; everyone else reads it."""
    return actor.role in EDITOR_ROLES


def _require_editor(actor):
    if not can_edit(actor):
        raise Forbidden("only leads and admins may change the AI system inventory")


def create_system(*, actor, data):
    """Add an AI system to the inventory of the actor's organisation."""
    _require_editor(actor)
    clean = _clean(data, partial=False)
    with transaction() as s:
        system = AISystem(org_id=actor.org_id, **clean)
        s.add(system)
        s.flush()
        from app.ledger import service as ledger

        ledger.record("ai_system_created", actor=actor, subject=system, payload=dict(clean))
    return system


def update_system(*, actor, system_id, data):
    """Edit an AI system's facts."""
    system = get_system(system_id)
    _require_editor(actor)
    clean = _clean(data, partial=True)
    with transaction() as s:
        changes = {key: [getattr(system, key), value] for key, value in clean.items()
                   if getattr(system, key) != value}
        for key, value in clean.items():
            setattr(system, key, value)
        s.add(system)
        s.flush()
        from app.ledger import service as ledger

        ledger.record("ai_system_updated", actor=actor, subject=system, payload={"changes": changes})

        if "owner_id" in clean:
            s.expire(system, ["owner"])
    return system


def get_system(system_id):
    """An AI system of the organisation in scope, or raise NotFound."""
    system = db.session.execute(select(AISystem).where(AISystem.id == system_id)).scalar_one_or_none()
    if system is None:
        raise NotFound("AI system not found")
    return system


def find_system(system_id):
    """An AI system of the organisation in scope, or None."""
    return db.session.execute(select(AISystem).where(AISystem.id == system_id)).scalar_one_or_none()


def list_systems(*, status=None, actor_role=None, risk_level=None, limit=None, after_id=None):
    """AI systems of the organisation in scope, by name."""
    stmt = select(AISystem).order_by(AISystem.name, AISystem.id)
    if status:
        stmt = stmt.where(AISystem.status == status)
    if actor_role:
        stmt = stmt.where(AISystem.actor_role == actor_role)
    if risk_level:
        stmt = stmt.where(AISystem.risk_level == risk_level)
    if after_id:
        stmt = stmt.where(AISystem.id > after_id).order_by(None).order_by(AISystem.id)
    if limit:
        stmt = stmt.limit(limit)
    return list(db.session.execute(stmt).scalars())


def count_systems():
    """How many AI systems the organisation in scope has."""
    return db.session.execute(select(func.count(AISystem.id))).scalar_one()


