"""The transition engine against a hand-built Definition: roles, source states, every kind of
guard, typed fields, closing and reopening, deadlines met, the timeline entry, versions."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.incidents import service as incidents
from app.incidents.models import Deadline, Incident, IncidentMinistryRequest, MinistryRequest, TimelineEvent
from app.orgs import service as orgs
from app.tenancy import scoped
from app.workflow import engine
from tests.web.conftest import incident_data
from tests.workflow.test_engine_defs import DEFINITION


@pytest.fixture
def flow(monkeypatch):
    """Every incident runs the hand-built test definition."""
    monkeypatch.setattr(engine, "definition_for", lambda incident: DEFINITION)
    return DEFINITION


class World:
    """One organisation with a user per role, and incidents filed through the service."""

    def __init__(self, app, factory):
        self.app = app
        self.org = factory.org()
        self.ids = {role: factory.user(self.org, role).id
                    for role in ("reporter", "responder", "lead", "executive", "admin")}

    def actor(self, role):
        """The user with ``role``, loaded in the current context."""
        return orgs.get_user(self.ids[role])

    def incident(self, state="reported", **facts):
        """File an incident as the reporter; put it in ``state`` of the test flow."""
        incident = incidents.file_incident(actor=self.actor("reporter"), data=incident_data(**facts))
        if incident.state != state:
            incident.state = state
            db.session.commit()
        return incident.id

    def deadline(self, incident_id, rule="appi-preliminary", met=False):
        """Make sure the incident carries a deadline of ``rule`` (met or not)."""
        row = db.session.execute(select(Deadline).where(
            Deadline.incident_id == incident_id, Deadline.rule == rule)).scalar_one_or_none()
        if row is None:
            row = Deadline(org_id=self.org.id, incident_id=incident_id, rule=rule, source="test",
                           due_at=datetime.now(timezone.utc) + timedelta(days=3))
            db.session.add(row)
        row.met_at = datetime.now(timezone.utc) if met else None
        db.session.commit()
        db.session.expire_all()
        return row

    def take(self, role, incident_id, name, **kw):
        """Take a transition with the current version (unless given)."""
        db.session.expire_all()
        version = kw.pop("version", None)
        if version is None:
            version = db.session.get(Incident, incident_id).version
        return engine.transition(actor=self.actor(role), incident_id=incident_id, name=name, version=version, **kw)


@pytest.fixture
def world(app, factory, flow):
    """A World inside an app context under its organisation's scope."""
    w = World(app, factory)
    with app.app_context(), scoped(w.org.id):
        yield w
        db.session.remove()


def names(transitions):
    return [t.name for t in transitions]


def contain_fields(**kw):
    values = {"summary": "Model rolled back", "contained_at": "2026-01-05T10:00:00+09:00"}
    values.update(kw)
    return values


def test_available_transitions_follow_role_state_and_guards(world):
    incident_id = world.incident()
    incident = incidents.get_incident(actor=world.actor("lead"), incident_id=incident_id)
    assert names(engine.available_transitions(actor=world.actor("responder"), incident=incident)) == ["start_triage"]
    assert names(engine.available_transitions(actor=world.actor("reporter"), incident=incident)) == []
    assert names(engine.available_transitions(actor=world.actor("executive"), incident=incident)) == []
    # sev2, no ministry request: "escalate" (any of sev1 / request linked) is not offered.
    assert names(engine.available_transitions(actor=world.actor("lead"), incident=incident)) == ["start_triage"]


def test_a_transition_moves_the_incident_and_writes_the_timeline(world):
    incident_id = world.incident()
    before = db.session.get(Incident, incident_id).version
    incident = world.take("responder", incident_id, "start_triage", comment="  Looking into it  ")
    assert incident.state == "triage" and incident.version == before + 1
    assert incident.is_open and incident.resolved_at is None
    # triage -> triage category: not yet acknowledged.
    assert incident.acknowledged_at is None
    event = db.session.execute(select(TimelineEvent).where(
        TimelineEvent.incident_id == incident_id, TimelineEvent.action == "transition")).scalar_one()
    assert (event.from_state, event.to_state, event.comment) == ("reported", "triage", "Looking into it")
    assert event.actor_id == world.ids["responder"]
    assert event.data["transition"] == "start_triage"
    assert event.data["label"] == {"en": "Start triage", "ja": "トリアージ開始"}
    assert event.data["fields"] == {}
    assert event.at == incident.state_entered_at


def test_fields_are_validated_by_type_and_recorded(world):
    incident_id = world.incident(state="triage")
    with pytest.raises(ValidationFailed) as err:
        world.take("lead", incident_id, "contain", fields={})
    assert set(err.value.fields) == {"summary", "contained_at"}
    bad = {"summary": "x" * 5001, "contained_at": "2026-01-05T10:00:00", "users": "12",
           "evidence_hold": "yes", "scope": "galaxy", "areas": ["data", "nope"], "extra": 1}
    with pytest.raises(ValidationFailed) as err:
        world.take("lead", incident_id, "contain", fields=bad)
    assert set(err.value.fields) == {"summary", "contained_at", "users", "evidence_hold", "scope", "areas", "extra"}
    assert "offset" in err.value.fields["contained_at"][0]
    with pytest.raises(ValidationFailed) as err:
        world.take("lead", incident_id, "contain", fields=contain_fields(contained_at="yesterday", users=True))
    assert set(err.value.fields) == {"contained_at", "users"}
    assert db.session.get(Incident, incident_id).state == "triage"
    incident = world.take("lead", incident_id, "contain", fields=contain_fields(
        users=3, evidence_hold=True, scope="external", areas=["model", "data", "model"]))
    assert incident.state == "active"
    assert incident.acknowledged_at == incident.state_entered_at  # left the triage category
    event = db.session.execute(select(TimelineEvent).where(
        TimelineEvent.incident_id == incident_id, TimelineEvent.action == "transition")).scalar_one()
    assert event.data["fields"] == {
        "summary": "Model rolled back", "contained_at": "2026-01-05T01:00:00+00:00", "users": 3,
        "evidence_hold": True, "scope": "external", "areas": ["model", "data"],
    }


def test_role_not_allowed_is_forbidden(world):
    incident_id = world.incident(state="triage")
    with pytest.raises(Forbidden):
        world.take("responder", incident_id, "contain", fields=contain_fields())
    with pytest.raises(Forbidden):
        world.take("executive", incident_id, "contain", fields=contain_fields())


def test_unknown_transition_and_missing_version_are_422(world):
    incident_id = world.incident()
    with pytest.raises(ValidationFailed) as err:
        world.take("lead", incident_id, "teleport")
    assert "transition" in err.value.fields
    for version in ("1", True, None):
        with pytest.raises(ValidationFailed) as err:
            engine.transition(actor=world.actor("lead"), incident_id=incident_id, name="start_triage", version=version)
        assert "version" in err.value.fields


def test_wrong_source_state_and_stale_version_are_conflicts(world):
    incident_id = world.incident()
    with pytest.raises(Conflict, match="not possible from the state reported"):
        world.take("lead", incident_id, "close")
    version = db.session.get(Incident, incident_id).version
    world.take("lead", incident_id, "start_triage", version=version)
    with pytest.raises(Conflict, match="changed by someone else"):
        world.take("lead", incident_id, "contain", version=version, fields=contain_fields())
    db.session.expire_all()
    assert db.session.get(Incident, incident_id).state == "triage"


def test_invisible_or_foreign_incidents_are_not_found(world, factory):
    incident_id = world.incident()
    other = factory.user(world.org, "reporter")
    with pytest.raises(NotFound):
        engine.transition(actor=orgs.get_user(other.id), incident_id=incident_id, name="start_triage", version=1)
    foreign_org = factory.org()
    foreign_lead = factory.user(foreign_org, "lead")
    with scoped(foreign_org.id):
        with pytest.raises(NotFound):
            engine.transition(actor=orgs.get_user(foreign_lead.id), incident_id=incident_id,
                              name="start_triage", version=1)


def test_facts_guard(world):
    incident_id = world.incident(state="active", jurisdictions=["EU"], personal_data=False)
    incident = db.session.get(Incident, incident_id)
    assert "file_report" not in names(engine.available_transitions(actor=world.actor("lead"), incident=incident))
    with pytest.raises(Conflict, match="jurisdiction among JP"):
        world.take("lead", incident_id, "file_report")


def test_deadlines_met_guard_and_meets(world):
    incident_id = world.incident(state="active")
    world.deadline(incident_id, "appi-preliminary", met=False)
    incident = world.take("lead", incident_id, "file_report")
    assert incident.state == "reporting"
    db.session.expire_all()
    row = db.session.execute(select(Deadline).where(
        Deadline.incident_id == incident_id, Deadline.rule == "appi-preliminary")).scalar_one()
    assert row.met_at is not None and row.met_by == "file_report"
    event = db.session.execute(select(TimelineEvent).where(
        TimelineEvent.incident_id == incident_id, TimelineEvent.action == "transition")).scalar_one()
    assert event.data["meets"] == ["appi-preliminary"]
    assert "close" in names(engine.available_transitions(
        actor=world.actor("lead"), incident=db.session.get(Incident, incident_id)))
    # An unmet deadline of the rule blocks the guard.
    world.deadline(incident_id, "appi-preliminary", met=False)
    incident = db.session.get(Incident, incident_id)
    assert "close" not in names(engine.available_transitions(actor=world.actor("lead"), incident=incident))
    with pytest.raises(Conflict, match="appi-preliminary must be met"):
        world.take("lead", incident_id, "close")


def test_deadlines_met_guard_passes_without_such_deadlines(world):
    incident_id = world.incident(state="reporting", jurisdictions=["US"], personal_data=False)
    db.session.execute(Deadline.__table__.delete().where(Deadline.incident_id == incident_id))
    db.session.commit()
    assert world.take("lead", incident_id, "close").state == "closed"


def test_closing_and_reopening(world):
    incident_id = world.incident(state="reporting", jurisdictions=["US"], personal_data=False)
    incident = world.take("lead", incident_id, "close", comment="Done")
    assert incident.state == "closed" and incident.is_open is False
    assert incident.resolved_at == incident.state_entered_at
    acknowledged = incident.acknowledged_at
    assert acknowledged is not None
    # "*" sources never include closed states.
    assert names(engine.available_transitions(actor=world.actor("lead"), incident=incident)) == ["reopen"]
    incident = world.take("lead", incident_id, "reopen")
    assert incident.state == "triage" and incident.is_open is True and incident.resolved_at is None
    assert incident.acknowledged_at == acknowledged


def test_any_guard_with_severity_or_ministry_request(world):
    sev1 = world.incident(state="triage", severity="sev1")
    assert "escalate" in names(engine.available_transitions(
        actor=world.actor("lead"), incident=db.session.get(Incident, sev1)))
    sev3 = world.incident(state="triage", severity="sev3")
    with pytest.raises(Conflict, match="one of"):
        world.take("lead", sev3, "escalate")
    request = MinistryRequest(org_id=world.org.id, ministry="METI", received_at=datetime.now(timezone.utc))
    db.session.add(request)
    db.session.flush()
    db.session.add(IncidentMinistryRequest(org_id=world.org.id, incident_id=sev3, request_id=request.id))
    db.session.commit()
    assert world.take("lead", sev3, "escalate").state == "reporting"


def test_evidence_hold_until_the_authorities_are_informed(world, app):
    incident_id = world.incident(state="triage")
    world.take("lead", incident_id, "contain", fields=contain_fields(evidence_hold=True))
    events = incidents.timeline(actor=world.actor("lead"), incident_id=incident_id)
    assert engine.evidence_hold_active(events)
    world.take("lead", incident_id, "file_report", fields={"authorities_informed": True})
    events = incidents.timeline(actor=world.actor("lead"), incident_id=incident_id)
    assert not engine.evidence_hold_active(events)


def test_a_concurrent_winner_after_the_check_still_makes_a_conflict(world, monkeypatch):
    """The version check before the write is not enough: the UPDATE itself is guarded."""
    incident_id = world.incident()
    version = db.session.get(Incident, incident_id).version
    checked = engine.clean_fields

    def meanwhile(transition, values):
        # Another process moves the incident between our check and our write.
        with db.engine.begin() as conn:
            conn.execute(Incident.__table__.update().where(Incident.__table__.c.id == incident_id)
                         .values(version=version + 1, state="triage"))
        return checked(transition, values)

    monkeypatch.setattr(engine, "clean_fields", meanwhile)
    with pytest.raises(Conflict, match="changed by someone else"):
        world.take("lead", incident_id, "start_triage", version=version)
    db.session.expire_all()
    assert db.session.get(Incident, incident_id).version == version + 1
    assert db.session.execute(select(TimelineEvent).where(
        TimelineEvent.incident_id == incident_id, TimelineEvent.action == "transition")).first() is None
