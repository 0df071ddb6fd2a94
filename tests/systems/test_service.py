"""The AI system inventory through the service: validation, owners, tenancy, filters."""
import pytest

from app.errors import NotFound, ValidationFailed
from app.orgs import service as orgs
from app.systems import service as systems
from app.tenancy import scoped

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def org(ctx):
    """An organisation under scope."""
    organisation = orgs.create_org(slug="acme", name="アクメ株式会社")
    with scoped(organisation.id):
        yield organisation


@pytest.fixture
def admin(org):
    """An admin of ``org``."""
    return orgs.create_user(org=org, email="admin@acme.example.jp", name="高橋 美咲", role="admin", password=PASSWORD)


FULL = {
    "name": "カスタマーサポートAIチャットボット",
    "purpose": "注文・配送の問い合わせに自動応答する。",
    "actor_role": "provider",
    "developer": "自社開発",
    "model_name": "GPT-4o + RAG",
    "model_version": "2026.03",
    "training_sources": "FAQ articles; order database (read only).",
    "deployment_context": "会員向けWebサイト",
    "risk_level": "limited",
    "eu_high_risk": False,
    "status": "in_use",
}


def test_create_system_with_every_field(org, admin):
    system = systems.create_system(actor=admin, data=dict(FULL, name="  " + FULL["name"] + "  ", owner_id=admin.id))
    assert system.id and system.org_id == org.id
    assert system.name == FULL["name"]
    for key, value in FULL.items():
        if key != "name":
            assert getattr(system, key) == value
    assert system.owner_id == admin.id
    assert systems.get_system(system.id).owner.name == "高橋 美咲"


def test_create_system_defaults(admin):
    system = systems.create_system(actor=admin, data={"name": "Demand forecasting"})
    assert system.actor_role == "business_user"
    assert system.risk_level == "limited"
    assert system.status == "in_use"
    assert system.eu_high_risk is False
    assert system.owner_id is None


@pytest.mark.parametrize("data, field", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": None}, "name"),
    ({"name": 42}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "ok", "purpose": "p" * 5001}, "purpose"),
    ({"name": "ok", "model_version": "v" * 101}, "model_version"),
    ({"name": "ok", "developer": ["a list"]}, "developer"),
    ({"name": "ok", "actor_role": "user"}, "actor_role"),
    ({"name": "ok", "actor_role": None}, "actor_role"),
    ({"name": "ok", "risk_level": "extreme"}, "risk_level"),
    ({"name": "ok", "status": "live"}, "status"),
    ({"name": "ok", "eu_high_risk": "yes"}, "eu_high_risk"),
    ({"name": "ok", "eu_high_risk": 1}, "eu_high_risk"),
    ({"name": "ok", "owner_id": 999999}, "owner_id"),
])
def test_create_system_validation(admin, data, field):
    with pytest.raises(ValidationFailed) as err:
        systems.create_system(actor=admin, data=data)
    assert field in err.value.fields
    assert systems.count_systems() == 0


def test_limits_are_inclusive(admin):
    system = systems.create_system(actor=admin, data={"name": "名" * 200, "purpose": "p" * 5000})
    assert len(system.name) == 200


def test_owner_of_another_organisation_is_not_found(ctx):
    other = orgs.create_org(slug="other", name="Other")
    with scoped(other.id):
        stranger = orgs.create_user(org=other, email="x@other.example.jp", name="", role="admin", password=PASSWORD)
    acme = orgs.create_org(slug="acme", name="Acme")
    with scoped(acme.id):
        admin = orgs.create_user(org=acme, email="a@acme.example.jp", name="", role="admin", password=PASSWORD)
        with pytest.raises(ValidationFailed) as err:
            systems.create_system(actor=admin, data={"name": "Credit model", "owner_id": stranger.id})
        assert err.value.fields["owner_id"] == ["Not found."]
        system = systems.create_system(actor=admin, data={"name": "Credit model"})
        with pytest.raises(ValidationFailed):
            systems.update_system(actor=admin, system_id=system.id, data={"owner_id": stranger.id})
        assert systems.get_system(system.id).owner_id is None


def test_update_is_partial_and_validated(admin):
    system = systems.create_system(actor=admin, data=dict(FULL, owner_id=admin.id))
    systems.update_system(actor=admin, system_id=system.id,
                          data={"risk_level": "high", "eu_high_risk": True, "model_version": "2026.04"})
    fresh = systems.get_system(system.id)
    assert (fresh.risk_level, fresh.eu_high_risk, fresh.model_version) == ("high", True, "2026.04")
    assert fresh.name == FULL["name"] and fresh.purpose == FULL["purpose"] and fresh.owner_id == admin.id

    for data, field in (({"name": ""}, "name"), ({"status": "gone"}, "status"), ({"purpose": "p" * 5001}, "purpose")):
        with pytest.raises(ValidationFailed) as err:
            systems.update_system(actor=admin, system_id=system.id, data=data)
        assert field in err.value.fields
    fresh = systems.get_system(system.id)
    assert fresh.name == FULL["name"] and fresh.status == "in_use"

    systems.update_system(actor=admin, system_id=system.id, data={"owner_id": None, "status": "retired"})
    fresh = systems.get_system(system.id)
    assert fresh.owner_id is None and fresh.status == "retired"


def test_another_organisations_system_is_not_found(ctx):
    acme = orgs.create_org(slug="acme", name="Acme")
    with scoped(acme.id):
        admin = orgs.create_user(org=acme, email="a@acme.example.jp", name="", role="admin", password=PASSWORD)
        system = systems.create_system(actor=admin, data={"name": "Acme secret model"})
    other = orgs.create_org(slug="other", name="Other")
    with scoped(other.id):
        stranger = orgs.create_user(org=other, email="x@other.example.jp", name="", role="admin", password=PASSWORD)
        systems.create_system(actor=stranger, data={"name": "Their model"})
        with pytest.raises(NotFound):
            systems.get_system(system.id)
        assert systems.find_system(system.id) is None
        with pytest.raises(NotFound):
            systems.update_system(actor=stranger, system_id=system.id, data={"name": "hijacked"})
        assert [s.name for s in systems.list_systems()] == ["Their model"]
        assert systems.count_systems() == 1
    with scoped(acme.id):
        assert systems.get_system(system.id).name == "Acme secret model"
        assert systems.count_systems() == 1


def test_list_filters_and_order(admin):
    rows = [
        ("需要予測", "business_user", "minimal", "in_use"),
        ("Credit scoring", "developer", "high", "in_use"),
        ("CV screening", "business_user", "high", "suspended"),
        ("Assistant", "provider", "limited", "planned"),
    ]
    for name, role, risk, status in rows:
        data = {"name": name, "actor_role": role, "risk_level": risk, "status": status}
        systems.create_system(actor=admin, data=data)
    assert [s.name for s in systems.list_systems()] == sorted(r[0] for r in rows)
    assert {s.name for s in systems.list_systems(actor_role="business_user")} == {"需要予測", "CV screening"}
    assert {s.name for s in systems.list_systems(risk_level="high")} == {"Credit scoring", "CV screening"}
    assert [s.name for s in systems.list_systems(status="planned")] == ["Assistant"]
    assert [s.name for s in systems.list_systems(risk_level="high", status="in_use")] == ["Credit scoring"]
    assert systems.list_systems(actor_role="developer", risk_level="minimal") == []
    assert systems.count_systems() == 4


def test_list_pages_by_id(admin):
    created = [systems.create_system(actor=admin, data={"name": f"System {n}"}).id for n in range(5)]
    first = systems.list_systems(limit=2)
    assert len(first) == 2
    rest = systems.list_systems(after_id=created[1], limit=10)
    assert [s.id for s in rest] == created[2:]
