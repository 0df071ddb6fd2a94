"""An incident that falls under several laws: the workflow follows the main one, and the
reports the other regimes ask for are offered in any open state (``to: "="`` keeps the state).
It cannot be closed while a regulatory deadline it carries is unmet."""
from datetime import datetime, timedelta, timezone

import pytest

from app.errors import Conflict
from app.extensions import db
from app.incidents import service as incidents
from app.orgs import service as orgs
from app.tenancy import scoped
from app.workflow import engine
from app.workflow import loader


@pytest.fixture
def lead(app, factory):
    org = factory.org()
    user = factory.user(org, "lead")
    with app.app_context(), scoped(org.id):
        yield orgs.get_user(user.id)
        db.session.remove()


def _file(actor, **facts):
    now = datetime.now(timezone.utc)
    data = {"title": "Triage model missed bleeds", "description": "d", "severity": "sev2",
            "occurred_at": now - timedelta(hours=3), "aware_at": now - timedelta(hours=1)}
    data.update(facts)
    return incidents.file_incident(actor=actor, data=data)


def _offered(actor, incident):
    return {t.name for t in engine.available_transitions(actor=actor, incident=incident)}


def _met(incident, rule):
    return [d.met_at for d in incident.deadlines if d.rule == rule]


def test_eu_workflow_offers_the_appi_reports_and_stays_in_its_state(lead):
    incident = _file(lead, jurisdictions=["EU", "JP"], personal_data=True, serious_incident=True)
    assert incident.workflow == "eu-ai-act-serious-incident"
    rules = {d.rule for d in incident.deadlines}
    assert {"appi-preliminary", "appi-final", "gdpr-33", "eu-ai-act-73"} <= rules
    offered = _offered(lead, incident)
    assert {"file_ppc_preliminary_report", "notify_data_protection_authority"} <= offered
    # The final report waits for the preliminary one (guard deadlines_met).
    assert "file_ppc_final_report" not in offered
    state, version = incident.state, incident.version
    incident = engine.transition(actor=lead, incident_id=incident.id, name="file_ppc_preliminary_report",
                                 version=version, fields={"submitted_at": datetime.now(timezone.utc).isoformat(),
                                                          "persons_affected": 120, "report_summary": "速報"})
    assert incident.state == state and incident.version == version + 1
    assert all(_met(incident, "appi-preliminary"))
    assert "file_ppc_final_report" in _offered(lead, incident)
    events = incidents.timeline(actor=lead, incident_id=incident.id)
    assert (events[-1].from_state, events[-1].to_state) == (state, state)


def test_steps_for_other_regimes_are_not_offered_when_the_facts_do_not_call_for_them(lead):
    incident = _file(lead, jurisdictions=["JP"], personal_data=False)
    assert incident.workflow == "jp-ai-incident"
    offered = _offered(lead, incident)
    assert not offered & {"file_ppc_preliminary_report", "notify_data_protection_authority",
                          "submit_eu_ai_act_report"}


def test_close_is_refused_while_a_carried_regulatory_deadline_is_unmet(lead):
    definition = loader.shipped()["jp-ai-incident"]
    close = next(t for t in definition.transitions if t.name == "close")
    rules = {r for g in close.guards if g.deadlines_met for r in g.deadlines_met}
    assert {"appi-preliminary", "appi-final", "gdpr-33", "eu-ai-act-73", "jp-ai-promotion"} <= rules
    incident = _file(lead, jurisdictions=["EU"], personal_data=True)  # GDPR applies
    assert incident.workflow == "jp-ai-incident"
    assert not engine.guards_pass(close, incident)
    incident = engine.transition(actor=lead, incident_id=incident.id, name="notify_data_protection_authority",
                                 version=incident.version,
                                 fields={"supervisory_authority": "CNIL",
                                         "notified_at": datetime.now(timezone.utc).isoformat(),
                                         "breach_description": "Order histories of 40 customers"})
    assert all(_met(incident, "gdpr-33"))
    assert engine.guards_pass(close, incident)
    with pytest.raises(Conflict):  # the state is still wrong for closing
        engine.transition(actor=lead, incident_id=incident.id, name="close", version=incident.version, fields={})
