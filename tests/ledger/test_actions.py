"""Every business action leaves its ledger entry, in its own transaction, with the right actor,
action, subject and payload; secrets never reach a payload; a rollback leaves nothing."""
from datetime import datetime, timezone

import pytest

from app.errors import ValidationFailed
from app.extensions import db
from app.incidents import deadlines
from app.incidents import service as incidents
from app.incidents.models import Incident
from app.db import transaction
from app.ledger import service as ledger
from app.liaison import service as liaison
from app.orgs import service as orgs
from app.queues import service as queues
from app.systems import service as systems
from app.workflow import engine
from app.workflow import service as workflows
from tests.conftest import PASSWORD
from tests.ledger.conftest import entries_of, label
from tests.workflow.test_engine_defs import DEFINITION


def _new(team, before):
    """Entries since ``before``, without those the escalation engine adds on its own."""
    return [e for e in team.entries()[len(before):] if not e["actor"].startswith("system:")]



def _only(team, before, action):
    new = _new(team, before)
    assert [e["action"] for e in new] == [action], new
    return new[0]


def test_org_and_user_creation_are_recorded_by_the_cli(app, factory):
    org = factory.org("cliorg", name="株式会社テスト")
    user = factory.user(org, "lead", email="lead@cliorg.example.jp", password="a-very-secret-password-1")
    found = entries_of(app, org.id)
    assert [e["action"] for e in found] == ["org_created", "user_created"]
    assert [e["seq"] for e in found] == [1, 2]
    created, made = found
    assert created["actor"] == "cli" and created["actor_id"] is None
    assert (created["subject_type"], created["subject_id"]) == ("organisation", org.id)
    assert created["payload"] == {"slug": "cliorg", "name": "株式会社テスト", "timezone": "Asia/Tokyo",
                                  "default_locale": "ja"}
    assert "株式会社テスト" in created["payload_text"]  # UTF-8, not \u escapes
    assert (made["subject_type"], made["subject_id"]) == ("user_account", user.id)
    assert made["payload"]["role"] == "lead" and made["payload"]["email"] == "lead@cliorg.example.jp"
    assert "secret" not in made["payload_text"] and "argon" not in made["payload_text"].lower()
    assert "password" not in made["payload"]


def test_create_org_names_the_actor_given(app):
    with app.app_context():
        org = orgs.create_org(slug="demoorg", name="Demo", actor="demo")
        db.session.remove()
    assert entries_of(app, org.id)[0]["actor"] == "demo"


def test_people_actions(app, team):
    admin, lead = team.users["admin"], team.users["lead"]
    before = team.entries()
    user, raw_invite = team.run(lambda: orgs.invite_user(actor=admin, email="new@ledgerco.example.jp",
                                                       name="New", role="responder"))
    new = _new(team, before)
    assert [e["action"] for e in new] == ["user_created", "user_invited"]
    assert all(e["actor"] == label(admin) and e["actor_id"] == admin.id for e in new)
    assert all(e["subject_id"] == user.id for e in new)

    before = team.entries()
    with app.app_context():
        orgs.accept_invitation(raw=raw_invite, password="a-long-new-password-42")
        db.session.remove()
    accepted = _only(team, before, "invitation_accepted")
    assert accepted["actor_id"] == user.id

    before = team.entries()
    team.run(lambda: orgs.set_role(actor=admin, user_id=lead.id, role="responder"))
    changed = _only(team, before, "role_changed")
    assert changed["actor"] == label(admin) and changed["subject_id"] == lead.id
    assert changed["payload"]["from"] == "lead" and changed["payload"]["to"] == "responder"

    before = team.entries()
    team.run(lambda: orgs.set_active(actor=admin, user_id=lead.id, active=False))
    team.run(lambda: orgs.set_active(actor=admin, user_id=lead.id, active=True))
    assert [e["action"] for e in _new(team, before)] == ["user_deactivated", "user_reactivated"]

    before = team.entries()
    team.run(lambda: orgs.change_password(user=orgs.get_user(admin.id), current_password=PASSWORD,
                                          new_password="another-long-password-7"))
    changed = _only(team, before, "password_changed")
    assert changed["actor_id"] == admin.id and changed["subject_id"] == admin.id

    before = team.entries()
    token, raw = team.run(lambda: orgs.create_token(user=admin, name="CI"))
    team.run(lambda: orgs.revoke_token(actor=admin, token_id=token.id))
    made, revoked = _new(team, before)
    assert (made["action"], revoked["action"]) == ("token_created", "token_revoked")
    assert made["subject_type"] == "api_token" and made["payload"] == {"name": "CI", "user_id": admin.id}

    # No password, hash, invitation or token secret anywhere in the ledger.
    everything = " ".join(e["payload_text"] for e in team.entries())
    for secret in (raw, raw[:10], raw_invite, PASSWORD, "a-long-new-password-42", "another-long-password-7",
                   "$argon2", "pbkdf2", "scrypt"):
        assert secret not in everything
    assert not any(key in everything for key in ('"password"', '"password_hash"', '"token_hash"'))


def test_ai_system_created_and_updated(team):
    lead = team.users["lead"]
    before = team.entries()
    system = team.run(lambda: systems.create_system(actor=lead, data={"name": "与信審査モデル", "risk_level": "high"}))
    team.run(lambda: systems.update_system(actor=lead, system_id=system.id, data={"risk_level": "limited"}))
    created, updated = _new(team, before)
    assert created["action"] == "ai_system_created" and created["subject_id"] == system.id
    assert created["payload"]["name"] == "与信審査モデル"
    assert updated["action"] == "ai_system_updated"
    assert updated["payload"] == {"changes": {"risk_level": ["high", "limited"]}}
    assert created["actor"] == updated["actor"] == label(lead)


def test_incident_filed_and_edited(team):
    lead = team.users["lead"]
    before = team.entries()
    incident_id = team.file(title="回答に他の顧客の注文が含まれていた")
    filed = _only(team, before, "incident_filed")
    assert (filed["subject_type"], filed["subject_id"]) == ("incident", incident_id)
    assert filed["actor"] == label(lead) and filed["actor_id"] == lead.id
    payload = filed["payload"]
    assert payload["number"] == 1 and payload["workflow"] and payload["state"]
    assert payload["facts"]["title"] == "回答に他の顧客の注文が含まれていた"
    assert payload["facts"]["aware_at"].endswith("Z")  # datetimes as canonical UTC text
    assert {d["rule"] for d in payload["deadlines"]} >= {"appi-preliminary"}

    def edit():
        incident = incidents.get_incident(actor=lead, incident_id=incident_id)
        return incidents.update_incident(actor=lead, incident_id=incident_id, version=incident.version,
                                         data={"severity": "sev1"})

    before = team.entries()
    team.run(edit)
    edited = _only(team, before, "incident_edited")
    assert edited["subject_id"] == incident_id and edited["payload"]["changes"] == {"severity": ["sev2", "sev1"]}


def test_transition_records_name_states_fields_comment_and_version(team, monkeypatch):
    monkeypatch.setattr(engine, "definition_for", lambda incident: DEFINITION)
    lead = team.users["lead"]
    incident_id = team.file(personal_data=False)

    def prepare():
        db.session.get(Incident, incident_id).state = "reported"
        db.session.commit()
        return db.session.get(Incident, incident_id).version

    version = team.run(prepare)
    before = team.entries()
    after = team.run(lambda: engine.transition(actor=lead, incident_id=incident_id, name="start_triage",
                                               version=version, comment="見ます").version)
    entry = _only(team, before, "transition")
    assert entry["subject_id"] == incident_id and entry["actor"] == label(lead)
    p = entry["payload"]
    assert (p["transition"], p["from"], p["to"], p["comment"]) == ("start_triage", "reported", "triage", "見ます")
    assert p["fields"] == {} and p["version"] == after == version + 1


def test_assign_claim_unassign_and_bulk_assign(team):
    lead, responder = team.users["lead"], team.users["responder"]
    first, second = team.file(), team.file()
    before = team.entries()
    team.run(lambda: queues.assign(actor=lead, incident_id=first, assignee_id=responder.id))
    team.run(lambda: queues.unassign(actor=responder, incident_id=first))
    team.run(lambda: queues.claim(actor=responder, incident_id=first))
    new = _new(team, before)
    assert [e["action"] for e in new] == ["assigned", "unassigned", "claimed"]
    assert [e["actor_id"] for e in new] == [lead.id, responder.id, responder.id]
    assert new[0]["payload"]["to"] == {"id": responder.id, "name": responder.name}
    assert new[1]["payload"]["to"] is None

    before = team.entries()
    team.run(lambda: queues.bulk_assign(actor=lead, incident_ids=[first, second],
                                        assignee_id=team.users["admin"].id))

    new = _new(team, before)
    assert [(e["action"], e["subject_id"], e["payload"]["bulk"]) for e in new] == [
        ("assigned", first, True), ("assigned", second, True)]
    assert new[0]["seq"] + 1 == new[1]["seq"]  # one transaction: contiguous


def test_ministry_requests_created_updated_linked_unlinked(team):
    lead = team.users["lead"]
    incident_id = team.file()
    before = team.entries()
    item = team.run(lambda: liaison.create_request(actor=lead, data={
        "ministry": "meti", "reference": "20260401-1", "received_at": datetime.now(timezone.utc)}))
    team.run(lambda: liaison.update_request(actor=lead, request_id=item.id, data={"reference": "20260401-2"}))
    team.run(lambda: liaison.link(actor=lead, request_id=item.id, incident_id=incident_id))
    team.run(lambda: liaison.unlink(actor=lead, request_id=item.id, incident_id=incident_id))
    new = _new(team, before)
    assert [e["action"] for e in new] == ["ministry_request_created", "ministry_request_updated",
                                          "ministry_request_linked", "ministry_request_unlinked"]
    assert new[0]["subject_type"] == "ministry_request" and new[0]["subject_id"] == item.id
    assert new[1]["payload"]["changes"] == {"reference": ["20260401-1", "20260401-2"]}
    assert new[2]["subject_id"] == incident_id and new[2]["payload"]["request_id"] == item.id


def test_workflow_copies_and_deadline_rules(team):
    admin = team.users["admin"]
    before = team.entries()
    row = team.run(lambda: workflows.copy_workflow(actor=admin, workflow_id="jp-ai-incident"))
    team.run(lambda: workflows.save_workflow(actor=admin, workflow_id=row.id, yaml_text=row.yaml_text))
    team.run(lambda: workflows.set_active(actor=admin, workflow_id=row.id, active=False))
    team.run(lambda: workflows.set_active(actor=admin, workflow_id=row.id, active=True))
    new = _new(team, before)
    assert [e["action"] for e in new] == ["workflow_copied", "workflow_edited", "workflow_deactivated",
                                          "workflow_activated"]
    assert [e["payload"]["version"] for e in new] == [1, 2, 2, 2]
    assert all(e["actor"] == label(admin) for e in new)

    before = team.entries()
    rule = team.run(lambda: deadlines.save_org_rule(actor=admin, data={
        "id": "exec-briefing", "label": {"en": "Briefing", "ja": "経営層への説明"},
        "source": "Internal policy", "timezone": "Asia/Tokyo", "period": {"days": 1}}))
    team.run(lambda: deadlines.set_org_rule_active(actor=admin, rule_id=rule.id, active=False))
    team.run(lambda: deadlines.set_org_rule_active(actor=admin, rule_id=rule.id, active=True))
    new = _new(team, before)
    assert [e["action"] for e in new] == ["deadline_rule_saved", "deadline_rule_deactivated",
                                          "deadline_rule_activated"]
    assert new[0]["payload"]["rule"] == "exec-briefing" and new[0]["payload"]["created"] is True
    assert new[0]["subject_type"] == "org_rule" and new[0]["subject_id"] == rule.id


def test_a_rolled_back_transaction_leaves_no_entry(app, team):
    before = team.entries()

    def failing():
        with pytest.raises(RuntimeError):
            with transaction():
                ledger.record("something", actor="test", org_id=team.org.id, payload={"a": 1})
                raise RuntimeError("boom")
        return ledger.head(team.org.id)

    head = team.run(failing)
    assert team.entries() == before and head == (before[-1]["seq"], before[-1]["hash"])

    # A service that fails validation writes nothing either.
    def bad_edit():
        with pytest.raises(ValidationFailed):
            systems.create_system(actor=team.users["lead"], data={"name": ""})

    team.run(bad_edit)
    assert team.entries() == before
    # And the next commit still chains on from the old head.
    team.file()
    after = team.entries()
    following = after[len(before)]
    assert following["seq"] == before[-1]["seq"] + 1 and following["prev_hash"] == before[-1]["hash"]



def test_a_rolled_back_savepoint_drops_only_its_entries(team):
    def nested():
        with transaction() as s:
            ledger.record("kept", actor="test", org_id=team.org.id)
            with pytest.raises(RuntimeError):
                with s.begin_nested():
                    ledger.record("dropped", actor="test", org_id=team.org.id)
                    raise RuntimeError("boom")

    before = team.entries()
    team.run(nested)
    assert [e["action"] for e in _new(team, before)] == ["kept"]


def test_record_needs_a_transaction_and_an_organisation(team):
    def outside():
        db.session.commit()
        with pytest.raises(RuntimeError):
            ledger.record("x", actor="test", org_id=team.org.id)
        with pytest.raises(ValueError):
            with transaction():
                ledger.record("x", actor="test")

    team.run(outside)


def test_every_entry_of_a_day_of_work_verifies(team):
    lead = team.users["lead"]
    for _ in range(3):
        team.file()
    team.run(lambda: systems.create_system(actor=lead, data={"name": "S"}))
    result = team.run(lambda: ledger.verify(team.org.id))
    assert result["ok"] and result["first_bad"] is None
    assert result["entries"] == len(team.entries()) == result["head"]["seq"]
