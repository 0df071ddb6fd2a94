"""The deadline engine: counting periods as the law counts them, each shipped rule with its
boundary cases, recomputation when facts change, meeting deadlines, the queue's due time."""
from datetime import datetime, timedelta, timezone

import pytest

from app.db import utcnow
from app.extensions import db
from app.incidents import deadlines
from app.incidents import service as incidents
from app.incidents.models import FAR_FUTURE, Deadline, IncidentMinistryRequest, MinistryRequest
from app.tenancy import scoped

UTC = timezone.utc
JST = timezone(timedelta(hours=9))


def _tx():
    """A write transaction (what a service would open)."""
    from app.db import transaction

    return transaction()


def z(text):
    """A UTC datetime from ``2026-01-05T14:59``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# ---------------------------------------------------------------- counting (pure)


def test_days_exclude_the_day_of_awareness_and_end_at_local_midnight_jst():
    # 23:59 JST on 5 January: the day of awareness is the 5th; 3 days end at 24:00 on the 8th.
    assert deadlines.due_at(z("2026-01-05T14:59"), {"days": 3}, "Asia/Tokyo") == z("2026-01-08T15:00")
    # One minute later it is 00:00 JST on the 6th: the period ends a day later.
    assert deadlines.due_at(z("2026-01-05T15:00"), {"days": 3}, "Asia/Tokyo") == z("2026-01-09T15:00")


def test_hours_run_exactly():
    aware = datetime(2026, 3, 28, 23, 17, 42, tzinfo=UTC)
    assert deadlines.due_at(aware, {"hours": 72}, "Europe/Brussels") == aware + timedelta(hours=72)


def test_brussels_summer_time_in_march():
    # Aware 20 March (CET, UTC+1); summer time starts 29 March 2026; 15 days end at
    # 24:00 on 4 April CEST (UTC+2) = 22:00Z, not 23:00Z.
    due = deadlines.due_at(z("2026-03-20T10:00"), {"days": 15}, "Europe/Brussels")
    assert due == z("2026-04-04T22:00")


def test_brussels_winter_time_in_october():
    # Aware 20 October (CEST); winter time from 25 October 2026; 15 days end at 24:00 on
    # 4 November CET (UTC+1) = 23:00Z.
    due = deadlines.due_at(z("2026-10-20T10:00"), {"days": 15}, "Europe/Brussels")
    assert due == z("2026-11-04T23:00")


def test_brussels_day_boundary_uses_local_date():
    # 23:30Z on 10 June is already 11 June in Brussels (CEST): counting starts from the 11th.
    assert deadlines.due_at(z("2026-06-10T23:30"), {"days": 2}, "Europe/Brussels") == z("2026-06-13T22:00")


def test_naive_aware_at_is_refused():
    with pytest.raises(ValueError):
        deadlines.due_at(datetime(2026, 1, 5), {"days": 3}, "Asia/Tokyo")


def _facts(**kw):
    base = {
        "jurisdictions": [], "personal_data": False, "deaths": 0, "serious_incident": False,
        "critical_infrastructure": False, "widespread_infringement": False, "wrongful_purpose": False,
        "severity": "sev3", "kind": "incident", "ministry_request_linked": False,
    }
    base.update(kw)
    return base


class _Stub:
    org_id = None


def _applicable(**facts):
    return {a.id: a for a in deadlines.applicable_rules(_Stub(), _facts(**facts), org_rules=[])}


def test_shortest_applicable_eu_period_wins():
    assert _applicable(jurisdictions=["EU"], serious_incident=True)["eu-ai-act-73"].period == {"days": 15}
    assert _applicable(jurisdictions=["EU"], deaths=1)["eu-ai-act-73"].period == {"days": 10}
    assert _applicable(jurisdictions=["EU"], deaths=2, critical_infrastructure=True)["eu-ai-act-73"].period == {"days": 2}
    assert _applicable(jurisdictions=["EU"], serious_incident=True, widespread_infringement=True)[
        "eu-ai-act-73"].period == {"days": 2}
    assert "eu-ai-act-73" not in _applicable(jurisdictions=["EU"])  # not serious
    assert "eu-ai-act-73" not in _applicable(jurisdictions=["JP"], deaths=1)  # not in the EU


def test_rules_apply_only_under_their_conditions():
    assert set(_applicable(jurisdictions=["JP"], personal_data=True)) == {"appi-preliminary", "appi-final"}
    assert set(_applicable(jurisdictions=["EU"], personal_data=True)) == {"gdpr-33"}
    assert set(_applicable(jurisdictions=["JP"], severity="sev1")) == {"jp-ai-promotion"}
    assert set(_applicable(jurisdictions=["JP"], severity="sev2")) == set()
    assert set(_applicable(jurisdictions=["US"], severity="sev1", ministry_request_linked=True)) == {"jp-ai-promotion"}
    assert set(_applicable(jurisdictions=["JP"], personal_data=False)) == set()


def test_appi_final_60_days_for_a_wrongful_purpose():
    assert _applicable(jurisdictions=["JP"], personal_data=True)["appi-final"].period == {"days": 30}
    assert _applicable(jurisdictions=["JP"], personal_data=True, wrongful_purpose=True)["appi-final"].period == {"days": 60}


# ---------------------------------------------------------------- through the service


@pytest.fixture
def org(ctx, factory, monkeypatch):
    """An organisation with a lead and an admin, its scope entered; no workflow state targets
    (the regulatory rules alone; test_state_target_from_the_workflow_definition adds one)."""
    monkeypatch.setattr(deadlines, "_definition", lambda incident: None)
    org = factory.org("acme")
    lead = factory.user(org, "lead")
    admin = factory.user(org, "admin")
    with scoped(org.id):
        yield type("Org", (), {"org": org, "lead": lead, "admin": admin, "id": org.id})


def file(actor, aware_at, **facts):
    """File an incident aware at ``aware_at`` (occurred an hour before) with ``facts``."""
    data = {
        "title": "Model output leaked data", "description": "Details.", "severity": "sev3",
        "occurred_at": aware_at - timedelta(hours=1), "aware_at": aware_at,
    }
    data.update(facts)
    return incidents.file_incident(actor=actor, data=data)


def due(incident, rule):
    """The due time of the incident's deadline of ``rule`` (re-read from the database)."""
    db.session.expire_all()
    rows = {d.rule: d for d in db.session.query(Deadline).filter_by(incident_id=incident.id)}
    return rows[rule].due_at if rule in rows else None


def rows(incident):
    """{rule: Deadline} as stored."""
    db.session.expire_all()
    return {d.rule: d for d in db.session.query(Deadline).filter_by(incident_id=incident.id)}


def test_appi_preliminary_at_the_jst_day_boundary(org):
    before = file(org.lead, z("2026-01-05T14:59"), jurisdictions=["JP"], personal_data=True)
    after = file(org.lead, z("2026-01-05T15:00"), jurisdictions=["JP"], personal_data=True)
    assert due(before, "appi-preliminary") == z("2026-01-08T15:00")
    assert due(after, "appi-preliminary") == z("2026-01-09T15:00")
    stored = rows(before)["appi-preliminary"]
    assert stored.kind == "regulatory" and stored.period == "3d Asia/Tokyo"
    assert stored.source.startswith("APPI Art. 26") and stored.met_at is None


def test_appi_final_30_then_60_days_when_wrongful_purpose_is_recorded(org):
    incident = file(org.lead, z("2026-01-05T03:00"), jurisdictions=["JP"], personal_data=True)
    assert due(incident, "appi-final") == z("2026-02-04T15:00")  # 24:00 JST on 4 Feb
    incidents.update_incident(actor=org.lead, incident_id=incident.id, version=incident.version,
                              data={"wrongful_purpose": True})
    assert due(incident, "appi-final") == z("2026-03-06T15:00")  # 24:00 JST on 6 March
    assert rows(incident)["appi-final"].period == "60d Asia/Tokyo"


def test_eu_ai_act_shortens_when_a_death_is_recorded_and_crosses_summer_time(org):
    incident = file(org.lead, z("2026-03-20T10:00"), jurisdictions=["EU"], serious_incident=True)
    assert due(incident, "eu-ai-act-73") == z("2026-04-04T22:00")  # 15 days, ends in CEST
    incident = incidents.update_incident(actor=org.lead, incident_id=incident.id, version=1, data={"deaths": 1})
    assert due(incident, "eu-ai-act-73") == z("2026-03-30T22:00")  # 10 days: 24:00 CEST on 30 March
    incident = incidents.update_incident(actor=org.lead, incident_id=incident.id, version=2,
                                         data={"critical_infrastructure": True})
    assert due(incident, "eu-ai-act-73") == z("2026-03-22T23:00")  # 2 days: 24:00 CET on 22 March
    assert rows(incident)["eu-ai-act-73"].period == "2d Europe/Brussels"
    assert incident.version == 3  # recomputing does not bump the version beyond the edit


def test_gdpr_72_hours_exactly(org):
    aware = datetime(2026, 3, 28, 22, 45, tzinfo=UTC)  # across the summer-time change: still 72 h
    incident = file(org.lead, aware, jurisdictions=["EU"], personal_data=True)
    assert due(incident, "gdpr-33") == aware + timedelta(hours=72)
    assert rows(incident)["gdpr-33"].period == "72h"


def test_jp_ai_promotion_for_jp_sev1(org):
    incident = file(org.lead, z("2026-01-05T14:59"), jurisdictions=["JP"], severity="sev1")
    assert due(incident, "jp-ai-promotion") == z("2026-01-06T15:00")  # 1 day: 24:00 JST on the 6th
    other = file(org.lead, z("2026-01-05T14:59"), jurisdictions=["JP"], severity="sev2")
    assert "jp-ai-promotion" not in rows(other)


def test_jp_ai_promotion_for_a_linked_ministry_request_only(org):
    incident = file(org.lead, z("2026-01-05T15:00"), jurisdictions=["US"], severity="sev3")
    assert rows(incident) == {}
    with _tx() as s:
        request = MinistryRequest(org_id=org.id, ministry="METI", received_at=z("2026-01-07T00:00"))
        s.add(request)
        s.flush()
        s.add(IncidentMinistryRequest(org_id=org.id, incident_id=incident.id, request_id=request.id))
        s.flush()
        deadlines.recompute(s, incident)
    assert due(incident, "jp-ai-promotion") == z("2026-01-07T15:00")


def test_a_rule_stops_applying_when_a_fact_changes(org):
    incident = file(org.lead, z("2026-02-10T08:00"), jurisdictions=["JP", "EU"], personal_data=True,
                    serious_incident=True)
    assert set(rows(incident)) == {"appi-preliminary", "appi-final", "eu-ai-act-73", "gdpr-33"}
    with _tx() as s:
        deadlines.mark_met(s, incident, ["gdpr-33"], by="notify_supervisory_authority", at=z("2026-02-11T09:00"))
    incident = incidents.update_incident(actor=org.lead, incident_id=incident.id, version=incident.version,
                                         data={"jurisdictions": ["JP"]})
    kept = rows(incident)
    # The unmet EU deadline is gone; the met one stays as history.
    assert set(kept) == {"appi-preliminary", "appi-final", "gdpr-33"}
    assert kept["gdpr-33"].met_at == z("2026-02-11T09:00")
    assert kept["gdpr-33"].met_by == "notify_supervisory_authority"
    incident = incidents.update_incident(actor=org.lead, incident_id=incident.id, version=incident.version,
                                         data={"personal_data": False})
    assert set(rows(incident)) == {"gdpr-33"}
    assert incident.queue_due_at == FAR_FUTURE  # nothing unmet is left


def test_queue_due_at_is_the_nearest_unmet_deadline(org):
    incident = file(org.lead, z("2026-01-05T03:00"), jurisdictions=["JP", "EU"], personal_data=True)
    assert incident.queue_due_at == due(incident, "gdpr-33")  # 72 h beats 3 days
    with _tx() as s:
        marked = deadlines.mark_met(s, incident, ["gdpr-33", "unknown-rule"], by="report_filed")
        assert [d.rule for d in marked] == ["gdpr-33"]
        again = deadlines.mark_met(s, incident, ["gdpr-33"], by="later")
        assert again == []  # met rows are not met twice
    db.session.expire_all()
    fresh = incidents.get_incident(actor=org.lead, incident_id=incident.id)
    assert fresh.queue_due_at == due(incident, "appi-preliminary")
    assert fresh.version == 1  # meeting and recomputing do not bump the version
    assert rows(fresh)["gdpr-33"].met_by == "report_filed"


def test_no_deadline_leaves_the_queue_due_far_future(org):
    incident = file(org.lead, z("2026-01-05T03:00"), jurisdictions=["US"])
    assert incident.queue_due_at == FAR_FUTURE and incident.deadlines == []


def test_state_target_from_the_workflow_definition(org, monkeypatch):
    from app.workflow.definition import Definition, Label, Selector, State

    definition = Definition(
        id="jp-ai-incident", version=1, label=Label("x", "x"), description=Label("x", "x"),
        initial_state="reported", transitions=(), applies_to=Selector(),
        states={
            "reported": State("reported", "triage", Label("Reported", "報告済み"), {"sev2": 3600}),
            "triage": State("triage", "triage", Label("Triage", "トリアージ"), {"sev2": 4 * 3600}),
        },
    )
    monkeypatch.setattr(deadlines, "_definition", lambda incident: definition)
    aware = utcnow() - timedelta(hours=2)
    incident = file(org.lead, aware.replace(microsecond=0), severity="sev2", jurisdictions=["US"])
    target = rows(incident)["target:reported"]
    assert target.kind == "state_target" and target.period == "1h"
    assert target.due_at == incident.state_entered_at + timedelta(hours=1)
    assert incident.queue_due_at == target.due_at
    assert deadlines.label_of(target) == {"en": "Response target: Reported", "ja": "対応目標：報告済み"}
    # A transition moves it on: the old target is met by that transition, a new one starts.
    entered = utcnow().replace(microsecond=0)
    with _tx() as s:
        incident.state, incident.state_entered_at = "triage", entered
        deadlines.recompute(s, incident, transition="start_triage")
    stored = rows(incident)
    assert stored["target:reported"].met_at == entered and stored["target:reported"].met_by == "start_triage"
    assert stored["target:triage"].due_at == entered + timedelta(hours=4)
    assert incident.queue_due_at == entered + timedelta(hours=4)


def test_api_filing_returns_deadlines_and_patch_recomputes(client, factory):
    org = factory.org("apiorg")
    lead = factory.user(org, "lead")
    headers = {"Authorization": f"Bearer {factory.token(lead)}"}
    aware = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)
    body = {
        "title": "Autonomous shuttle braking failure", "description": "The planner ignored an obstacle.",
        "severity": "sev2", "occurred_at": (aware - timedelta(hours=1)).isoformat(), "aware_at": aware.isoformat(),
        "jurisdictions": ["EU"], "serious_incident": True, "deaths": 0,
    }
    resp = client.post("/api/v1/incidents", json=body, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    by_rule = {d["rule"]: d for d in created["deadlines"]}
    eu = by_rule["eu-ai-act-73"]
    assert {"rule", "due_at", "source", "met_at"} <= set(eu)
    assert eu["due_at"] == "2026-04-04T22:00:00+00:00" and eu["met_at"] is None
    assert eu["source"] == "EU AI Act Art. 73(2)-(4)"
    assert eu["kind"] == "regulatory" and eu["period"] == "15d Europe/Brussels" and eu["met_by"] is None
    assert eu["label"]["en"] and eu["label"]["ja"]

    resp = client.patch(f"/api/v1/incidents/{created['id']}", json={"version": created["version"], "deaths": 1},
                        headers=headers)
    assert resp.status_code == 200, resp.get_json()
    patched = resp.get_json()
    assert patched["version"] == created["version"] + 1
    eu = {d["rule"]: d for d in patched["deadlines"]}["eu-ai-act-73"]
    assert eu["due_at"] == "2026-03-30T22:00:00+00:00" and eu["period"] == "10d Europe/Brussels"
    # A stale version is refused and changes nothing.
    stale = client.patch(f"/api/v1/incidents/{created['id']}", json={"version": created["version"], "deaths": 0},
                         headers=headers)
    assert stale.status_code == 409
