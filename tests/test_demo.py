"""`flask demo`: a realistic bilingual demo organisation, loaded through the services, once."""
import pytest

from app import demo
from app.errors import ValidationFailed
from app.extensions import db
from app.incidents import service as incidents
from app.incidents import vocab
from app.orgs import service as orgs
from app.orgs.models import ROLES
from app.systems import service as systems
from app.tenancy import scoped

DEMO_PASSWORD = "demo-password-2026"


def invoke_demo(app, runner, *args):
    """Run ``flask demo`` as the ``flask`` command does: inside an application context."""
    with app.app_context():
        return runner.invoke(args=["demo", *args])


def _all_incidents(actor):
    items, cursor = incidents.list_incidents(actor=actor, limit=200)
    while cursor:
        more, cursor = incidents.list_incidents(actor=actor, limit=200, cursor=cursor)
        items += more
    return items


def test_flask_demo_builds_the_demo_organisation(app, runner):
    result = invoke_demo(app, runner)
    assert result.exit_code == 0, result.output
    for role in ROLES:
        assert f"{role}@demo.example.jp" in result.output
    assert DEMO_PASSWORD in result.output

    with app.app_context():
        org = orgs.get_org_by_slug("demo")
        assert org is not None
        assert "デモ株式会社" in org.name and "Demo Corp" in org.name
        assert org.timezone == "Asia/Tokyo"
        with scoped(org.id):
            users = orgs.list_users()
            assert {u.role for u in users} == set(ROLES)
            for role in ROLES:
                user = orgs.find_user_by_email(f"{role}@demo.example.jp")
                assert user.org_id == org.id and user.role == role and user.active
            assert any(u.name == "佐藤 花子" for u in users)

            inventory = systems.list_systems()
            assert len(inventory) >= 8
            assert {s.actor_role for s in inventory} == {"developer", "provider", "business_user"}
            assert any(s.eu_high_risk for s in inventory) and not all(s.eu_high_risk for s in inventory)
            assert all(s.purpose and s.developer and s.training_sources and s.deployment_context for s in inventory)

            lead = orgs.find_user_by_email("lead@demo.example.jp")
            items = _all_incidents(lead)
            assert len(items) >= 40
            assert {i.kind for i in items} == set(vocab.KINDS)
            assert {i.severity for i in items} == set(vocab.SEVERITIES)
            jurisdictions = {j for i in items for j in i.jurisdictions}
            assert {"JP", "EU", "US"} <= jurisdictions
            assert any(len(i.jurisdictions) > 1 for i in items)
            assert {True, False} == {i.personal_data for i in items}
            assert any(i.deaths > 0 for i in items)
            assert any(i.critical_infrastructure for i in items)
            assert any(i.widespread_infringement for i in items)
            assert any(i.wrongful_purpose for i in items)
            assert any(i.confidential for i in items)
            assert len({i.reporter_id for i in items}) >= 4
            assert len({h for i in items for h in i.harm_types}) >= 8
            # Bilingual: Japanese and English titles.
            assert any(any("\u3040" <= ch <= "\u9fff" for ch in i.title) for i in items)
            assert any(i.title.isascii() for i in items)
            # Filed over the past months, facts in order, numbered in filing order.
            for i in items:
                assert i.occurred_at <= i.aware_at <= i.created_at
            span = max(i.created_at for i in items) - min(i.created_at for i in items)
            assert span.days >= 90
            by_number = sorted(items, key=lambda i: i.number)
            assert [i.number for i in by_number] == list(range(1, len(items) + 1))
            assert [i.created_at for i in by_number] == sorted(i.created_at for i in items)
            # Tags were written, so the list filters find demo data.
            eu, _ = incidents.list_incidents(actor=lead, filters={"jurisdiction": "EU"}, limit=200)
            assert eu and all("EU" in i.jurisdictions for i in eu)


def test_flask_demo_twice_is_harmless(app, runner):
    assert invoke_demo(app, runner).exit_code == 0
    again = invoke_demo(app, runner)
    assert again.exit_code == 0, again.output
    assert "already exists" in again.output
    with app.app_context():
        org = orgs.get_org_by_slug("demo")
        with scoped(org.id):
            assert len(orgs.list_users()) == len(demo.PEOPLE)
            assert systems.count_systems() == len(demo.SYSTEMS)
            lead = orgs.find_user_by_email("lead@demo.example.jp")
            assert len(_all_incidents(lead)) == len(demo.INCIDENTS)
        db.session.remove()


def test_demo_load_is_idempotent_and_takes_a_slug(ctx):
    summary = demo.load(slug="demo2", password="another-password-1")
    assert "demo2" in summary and "another-password-1" in summary
    assert demo.load(slug="demo2", password="another-password-1") is None


def test_demo_refuses_a_weak_password_before_writing(ctx):
    with pytest.raises(ValidationFailed):
        demo.load(slug="weak", password="short")
    assert orgs.get_org_by_slug("weak") is None


def test_demo_login_works(app, runner, client, auth):
    assert invoke_demo(app, runner).exit_code == 0
    resp = auth.login("reporter@demo.example.jp", DEMO_PASSWORD)
    assert resp.status_code == 302
    assert "/login" not in resp.headers["Location"]
    # The session is live: a page behind login does not send us back to the form.
    home = client.get("/")
    assert "/login" not in home.headers.get("Location", "")
