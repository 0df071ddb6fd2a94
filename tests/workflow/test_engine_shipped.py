"""The engine runs the shipped default workflow (workflows/jp-ai-incident.yaml) end to end,
with the real loader and deadline engine: the path to closed, acknowledgement, the
jp-ai-promotion guard for SEV1, the government-liaison guard, reopening."""
from datetime import datetime, timezone

import pytest

from app.errors import Conflict, ValidationFailed
from app.extensions import db
from app.incidents import service as incidents
from app.orgs import service as orgs
from app.tenancy import scoped
from app.workflow import engine
from tests.web.conftest import incident_data

CLOSE_FIELDS = {"root_cause": "Stale retrieval index", "corrective_actions": "Index rebuilt",
                "recurrence_prevention": "Nightly consistency check", "information_shared": "Customers informed"}


@pytest.fixture
def people(app, factory):
    """A lead and a responder of one organisation, loaded in an app context under its scope."""
    org = factory.org()
    lead, responder = factory.user(org, "lead"), factory.user(org, "responder")
    with app.app_context(), scoped(org.id):
        yield orgs.get_user(lead.id), orgs.get_user(responder.id)
        db.session.remove()


def take(actor, incident, name, **fields):
    """Take a transition with the incident's current version."""
    return engine.transition(actor=actor, incident_id=incident.id, name=name, version=incident.version,
                             comment=f"{name} done", fields=fields)


def offered(actor, incident):
    return [t.name for t in engine.available_transitions(actor=actor, incident=incident)]


def test_default_workflow_to_closed(people):
    lead, responder = people
    incident = incidents.file_incident(actor=responder, data=incident_data(personal_data=False))
    assert (incident.workflow, incident.state) == ("jp-ai-incident", "reported")
    assert offered(responder, incident) == ["start_triage"]
    assert set(offered(lead, incident)) == {"start_triage", "dismiss"}
    incident = take(responder, incident, "start_triage", triage_notes="Chatbot leaks order data")
    assert incident.acknowledged_at is None  # still in a triage-category state
    with pytest.raises(ValidationFailed) as err:
        take(responder, incident, "contain")
    assert set(err.value.fields) == {"containment_actions"}
    incident = take(responder, incident, "contain", containment_actions="Bot paused", system_suspended=True)
    assert incident.acknowledged_at is not None and incident.state == "containment"
    # SEV2 without a ministry request: no government liaison.
    assert "start_government_liaison" not in offered(lead, incident)
    incident = take(responder, incident, "start_investigation")
    incident = take(lead, incident, "report_to_executives", reported_to="CAIO", executive_summary="Contained")
    incident = take(lead, incident, "plan_remediation", remediation_plan="Rebuild the index")
    incident = take(responder, incident, "start_review", remediation_summary="Index rebuilt")
    with pytest.raises(ValidationFailed) as err:
        take(lead, incident, "close", root_cause="x")
    assert set(err.value.fields) == {"corrective_actions", "recurrence_prevention", "information_shared"}
    incident = take(lead, incident, "close", **CLOSE_FIELDS)
    assert incident.state == "closed" and incident.is_open is False and incident.resolved_at is not None
    assert offered(lead, incident) == ["reopen"]
    events = incidents.timeline(actor=lead, incident_id=incident.id)
    moves = [e for e in events if e.action == "transition"]
    assert [e.data["transition"] for e in moves] == [
        "start_triage", "contain", "start_investigation", "report_to_executives", "plan_remediation",
        "start_review", "close"]
    assert moves[-1].data["fields"] == CLOSE_FIELDS and moves[-1].actor_id == lead.id
    assert moves[-1].data["label"]["ja"] == "レビューを完了して終了"
    assert all(e.comment.endswith("done") for e in moves)
    incident = take(lead, incident, "reopen", reopen_reason="New evidence")
    assert incident.is_open and incident.resolved_at is None and incident.state == "investigation"


def test_sev1_needs_the_executive_report_before_remediation(people):
    lead, _ = people
    incident = incidents.file_incident(actor=lead, data=incident_data(severity="sev1", personal_data=False))
    assert incident.workflow == "jp-ai-incident"
    assert any(d.rule == "jp-ai-promotion" and d.met_at is None for d in incident.deadlines)
    incident = take(lead, incident, "start_triage")
    assert "start_government_liaison" in offered(lead, incident)
    incident = take(lead, incident, "start_investigation")
    assert "plan_remediation" not in offered(lead, incident)
    with pytest.raises(Conflict, match="jp-ai-promotion"):
        take(lead, incident, "plan_remediation", remediation_plan="Fix")
    incident = take(lead, incident, "report_to_executives", reported_to="Board", executive_summary="Sev1")
    deadline = next(d for d in incident.deadlines if d.rule == "jp-ai-promotion")
    assert deadline.met_at is not None and deadline.met_by == "report_to_executives"
    incident = take(lead, incident, "start_government_liaison", competent_ministry="meti",
                    contact_at=datetime.now(timezone.utc).isoformat(), information_shared_summary="Initial facts")
    assert incident.state == "government_liaison"
    incident = take(lead, incident, "record_government_contact", competent_ministry="cabinet_office",
                    contact_at="2026-01-05T09:00:00+09:00", information_shared_summary="Follow-up",
                    ai_headquarters_informed=True)
    assert incident.state == "government_liaison"
    with pytest.raises(ValidationFailed) as err:
        take(lead, incident, "record_government_contact", competent_ministry="mof",
             contact_at="2026-01-05T09:00:00+09:00", information_shared_summary="x")
    assert set(err.value.fields) == {"competent_ministry"}
    assert take(lead, incident, "plan_remediation", remediation_plan="Fix").state == "remediation"


def test_evidence_hold_of_the_eu_workflow_on_the_incident_and_the_system(people, app):
    lead, _ = people
    from app.systems import service as systems

    system = systems.create_system(actor=lead, data={"name": "Credit scoring model"})
    incident = incidents.file_incident(actor=lead, data=incident_data(
        jurisdictions=["EU"], serious_incident=True, personal_data=False, ai_system_id=system.id))
    assert incident.workflow == "eu-ai-act-serious-incident"
    incident = take(lead, incident, "place_evidence_hold", preserved_items=["logs", "model_version"],
                    hold_note="Snapshot in the evidence bucket, held by the CISO")
    events = incidents.timeline(actor=lead, incident_id=incident.id)
    assert events[-1].data["sets"] == {"evidence_hold": True}
    assert engine.evidence_hold_active(events)
    assert [i.id for i in engine.system_evidence_holds(system_id=system.id)] == [incident.id]
    incident = take(lead, incident, "submit_initial_report", market_surveillance_authority="BNetzA",
                    member_state="DE", submitted_at="2026-01-05T09:00:00+01:00", causal_link="established",
                    report_summary="Wrong credit decisions")
    assert next(d for d in incident.deadlines if d.rule == "eu-ai-act-73").met_at is not None
    assert not engine.evidence_hold_active(incidents.timeline(actor=lead, incident_id=incident.id))
    assert engine.system_evidence_holds(system_id=system.id) == []


def test_each_transition_steps_the_version_by_one(people):
    lead, _ = people
    incident = incidents.file_incident(actor=lead, data=incident_data(severity="sev1", personal_data=False))
    for name, fields in (("start_triage", {}), ("contain", {"containment_actions": "Paused"}),
                         ("report_to_executives", {"reported_to": "Board", "executive_summary": "x"})):
        before = incident.version
        incident = take(lead, incident, name, **fields)
        db.session.expire_all()
        assert incidents.get_incident(actor=lead, incident_id=incident.id).version == before + 1, name
