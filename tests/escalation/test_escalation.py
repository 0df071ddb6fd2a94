"""The escalation engine: policies as data, timers in the database, the sweep records each
escalation once, acknowledgement, reminders and the next level, and the API."""
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.escalation import policy as policies
from app.escalation import service as escalation
from app.escalation.models import Delivery, Escalation, EscalationTimer, Notification
from app.extensions import db
from app.incidents import service as incidents
from app.incidents.models import Deadline
from app.ledger.models import LedgerEntry
from app.orgs import service as orgs
from app.tenancy import scoped
from app.workflow import engine
from app.workflow.loader import DefinitionError
from tests.web.conftest import incident_data


class World:
    def __init__(self, app, factory):
        self.app = app
        self.org = factory.org()
        self.ids = {role: factory.user(self.org, role, locale="en").id
                    for role in ("reporter", "responder", "lead", "executive", "admin")}

    def actor(self, role):
        return orgs.get_user(self.ids[role])

    def file(self, **facts):
        incident = incidents.file_incident(actor=self.actor("reporter"), data=incident_data(**facts))
        return incident.id


@pytest.fixture
def world(app, factory):
    return World(app, factory)


@pytest.fixture
def org_ctx(app, world):
    with app.app_context(), scoped(world.org.id):
        yield world
        db.session.remove()


def _escalations(incident_id=None):
    stmt = select(Escalation).order_by(Escalation.id)
    if incident_id is not None:
        stmt = stmt.where(Escalation.incident_id == incident_id)
    rows = db.session.execute(stmt).unique().scalars().all()
    db.session.rollback()
    return rows


def _keys(rows):
    return sorted((e.trigger, e.level, e.reason) for e in rows)


# ---------------------------------------------------------------- policies


def test_shipped_policy_loads_with_its_levels_and_triggers():
    policy = policies.load_folder()["default"]
    assert [policy.levels[n].key for n in sorted(policy.levels)] == [
        "response_lead", "governance_committee", "executives", "external"]
    assert policy.filing_levels("sev1") == [1, 3]
    assert policy.levels[4].external and not policy.levels[4].acknowledge_within
    assert policy.next_level(1).level == 2 and policy.next_level(3) is None  # never to the external level
    assert {t.at_percent for t in policy.deadline_triggers("regulatory")} == {50, 80, 100}


@pytest.mark.parametrize("text, where", [
    ("id: p\nversion: 1\nlabel: {en: P, ja: P}\nlevels: []\ntriggers: []\n", "levels"),
    ("id: p\nversion: 1\nlabel: {en: P, ja: P}\nlevels:\n  - {level: 1, key: a, label: {en: A, ja: A}, "
     "channels: [email]}\ntriggers:\n  - {event: filed, severity: [sev1], level: 2}\n", "triggers[0].level"),
    ("id: p\nversion: 1\nlabel: {en: P, ja: P}\nlevels:\n  - {level: 1, key: a, label: {en: A, ja: A}, "
     "channels: [fax]}\ntriggers: []\n", "levels[0].channels"),
    ("id: p\nversion: 1\nlabel: {en: P, ja: P}\nlevels:\n  - {level: 1, key: a, label: {en: A, ja: A}, "
     "channels: [email]}\ntriggers:\n  - {on: filed, severity: [sev1], level: 1}\n", "triggers[0]"),
    ("id: p\nversion: 1\nlabel: {en: P, ja: P}\nlevels:\n  - {level: 1, key: a, label: {en: A, ja: A}, "
     "channels: [email], acknowledge_within: soon}\ntriggers: []\n", "levels[0].acknowledge_within"),
    ("id: p\nversion: 1\nlabel: {en: P, ja: P}\nlevels:\n  - {level: 1, key: a, label: {en: A, ja: A}, "
     "channels: [email]}\ntriggers:\n  - {event: deadline, level: 1}\n", "triggers[0].at_percent"),
])
def test_an_invalid_policy_names_the_file_the_path_and_the_line(text, where):
    with pytest.raises(DefinitionError) as err:
        policies.load_text(text, "workflows/policies/bad.yaml")
    message = str(err.value)
    assert "workflows/policies/bad.yaml" in message and where in message
    assert "(line " in message


def test_an_invalid_policy_stops_the_service(tmp_path, make_app, fresh_database_url):
    (tmp_path / "broken.yaml").write_text("id: broken\nversion: 1\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        make_app(fresh_database_url, ESCALATION_POLICY_DIR=str(tmp_path))
    assert "broken.yaml" in str(err.value) and "levels" in str(err.value)


def test_flask_escalation_check(runner, tmp_path):
    ok = runner.invoke(args=["escalation", "check"])
    assert ok.exit_code == 0 and "ok: default" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: p\nversion: one\n", encoding="utf-8")
    result = runner.invoke(args=["escalation", "check", str(bad)])
    assert result.exit_code == 1 and "version" in result.output


# ---------------------------------------------------------------- filing


def test_sev1_reaches_the_executives_at_once(org_ctx):
    incident_id = org_ctx.file(severity="sev1")
    rows = _escalations(incident_id)
    assert _keys(rows) == [("filed", 1, "filed_severity"), ("filed", 3, "filed_severity")]
    by_level = {e.level: e for e in rows}
    assert [r["id"] for r in by_level[1].recipients if r["type"] == "user"] == [org_ctx.ids["lead"]]
    assert [r["id"] for r in by_level[3].recipients if r["type"] == "user"] == [org_ctx.ids["executive"]]
    # In-app notifications now; e-mail waits for the job.
    notes = db.session.execute(select(Notification.user_id, Notification.escalation_id)).all()
    assert sorted(notes) == sorted([(org_ctx.ids["lead"], by_level[1].id), (org_ctx.ids["executive"], by_level[3].id)])
    channels = sorted((d.channel, d.status) for d in by_level[3].deliveries)
    assert channels == [("email", "pending"), ("in_app", "sent")]
    # The ledger has one "escalate" entry per escalation, in the filing's transaction.
    actions = db.session.execute(select(LedgerEntry.action, LedgerEntry.payload)
                                 .where(LedgerEntry.action == "escalate")).all()
    assert len(actions) == 2 and all('"reason":"filed_severity"' in p for _, p in actions)


def test_sev4_is_not_escalated_at_filing_but_gets_timers(org_ctx):
    incident_id = org_ctx.file(severity="sev4")
    assert _escalations(incident_id) == []
    timers = db.session.execute(select(EscalationTimer.trigger, EscalationTimer.level)
                                .where(EscalationTimer.incident_id == incident_id)).all()
    triggers = {t for t, _ in timers}
    assert {"deadline:appi-preliminary:50", "deadline:appi-preliminary:80",
            "deadline:appi-preliminary:overdue", "target:reported"} <= triggers
    assert ("deadline:appi-preliminary:80", 4) in timers  # the external level: the PPC


def required_fields(spec):
    """Plausible values for a transition's required fields, by type."""
    values = {}
    for f in spec.fields:
        if not f.required:
            continue
        if f.type == "datetime":
            values[f.name] = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
        elif f.type == "date":
            values[f.name] = datetime.now(timezone.utc).date().isoformat()
        elif f.type == "int":
            values[f.name] = 3
        elif f.type == "multichoice":
            values[f.name] = [f.options[0]]
        elif f.type == "choice":
            values[f.name] = f.options[0]
        elif f.type == "bool":
            values[f.name] = True
        else:
            values[f.name] = "Recorded for the test."
    return values


def take(actor, incident, name):
    """Take a transition with plausible required fields; returns the incident."""
    spec = engine.find_transition(engine.definition_for(incident), name, incident.state)
    return engine.transition(actor=actor, incident_id=incident.id, name=name, version=incident.version,
                             fields=required_fields(spec))


def _deadline(incident_id, rule):
    row = db.session.execute(select(Deadline).where(Deadline.incident_id == incident_id,
                                                    Deadline.rule == rule)).scalar_one()
    db.session.rollback()
    return row


def test_deadline_shares_escalate_once_each_even_when_swept_twice(org_ctx):
    aware = datetime.now(timezone.utc) - timedelta(hours=1)
    incident_id = org_ctx.file(severity="sev4", aware_at=aware, occurred_at=aware - timedelta(hours=1))
    due = _deadline(incident_id, "appi-preliminary").due_at
    span = due - aware
    at_60 = aware + span * 0.6
    first = escalation.sweep(now=at_60)
    again = escalation.sweep(now=at_60)
    assert first["recorded"] >= 1 and again["recorded"] == 0
    rows = [e for e in _escalations(incident_id) if e.rule == "appi-preliminary"]
    assert _keys(rows) == [("deadline:appi-preliminary:50", 1, "deadline_progress")]
    at_90 = aware + span * 0.9
    escalation.sweep(now=at_90)
    escalation.sweep(now=at_90)
    rows = [e for e in _escalations(incident_id) if e.rule == "appi-preliminary"]
    # 80 %: level 2 and the external level; the unacknowledged 50 % one went to level 2 too.
    assert _keys(rows) == [("deadline:appi-preliminary:50", 1, "deadline_progress"),
                           ("deadline:appi-preliminary:50", 2, "not_acknowledged"),
                           ("deadline:appi-preliminary:80", 2, "deadline_progress"),
                           ("deadline:appi-preliminary:80", 4, "deadline_progress")]
    external = next(e for e in rows if e.level == 4)
    assert external.external
    authority = [r for r in external.recipients if r["type"] == "authority"]
    assert authority and authority[0]["name"]["ja"] == "個人情報保護委員会"
    assert all(d.channel != "email" for d in external.deliveries)  # never sent to an authority by itself
    escalation.sweep(now=due + timedelta(minutes=1))
    rows = [e for e in _escalations(incident_id) if e.rule == "appi-preliminary"]
    assert ("deadline:appi-preliminary:overdue", 3, "deadline_overdue") in _keys(rows)


def test_a_met_deadline_stops_its_timers(org_ctx):
    aware = datetime.now(timezone.utc) - timedelta(hours=1)
    incident_id = org_ctx.file(severity="sev4", aware_at=aware, occurred_at=aware - timedelta(hours=1))
    lead = org_ctx.actor("lead")
    incident = incidents.get_incident(actor=lead, incident_id=incident_id)
    incident = take(lead, incident, "start_triage")
    incident = take(lead, incident, "file_preliminary_report")
    db.session.rollback()
    assert _deadline(incident_id, "appi-preliminary").met_at is not None
    left = db.session.execute(select(EscalationTimer.trigger).where(
        EscalationTimer.incident_id == incident_id, EscalationTimer.fired_at.is_(None))).scalars().all()
    assert not [t for t in left if t.startswith("deadline:appi-preliminary")]
    escalation.sweep(now=datetime.now(timezone.utc) + timedelta(days=5))
    assert not [e for e in _escalations(incident_id) if e.rule == "appi-preliminary"]


def test_a_state_target_passing_escalates_to_the_response_lead(org_ctx):
    incident_id = org_ctx.file(severity="sev4", jurisdictions=[], personal_data=False)
    target = _deadline(incident_id, "target:reported")
    escalation.sweep(now=target.due_at + timedelta(seconds=1))
    rows = _escalations(incident_id)
    assert _keys(rows) == [("target:reported", 1, "state_target_passed")]


def test_not_acknowledged_moves_to_the_next_level_and_reminders_repeat(org_ctx):
    incident_id = org_ctx.file(severity="sev3", jurisdictions=[], personal_data=False)
    (first,) = _escalations(incident_id)
    created = first.created_at
    # 16 minutes: a reminder round (repeat_every 15m), no new level yet.
    escalation.sweep(now=created + timedelta(minutes=16))
    (same,) = _escalations(incident_id)
    assert same.repeats == 1
    assert sorted({d.round for d in same.deliveries}) == [0, 1]
    # 31 minutes: not acknowledged within 30m -> level 2.
    escalation.sweep(now=created + timedelta(minutes=31))
    escalation.sweep(now=created + timedelta(minutes=31))
    rows = _escalations(incident_id)
    assert _keys(rows) == [("filed", 1, "filed_severity"), ("filed", 2, "not_acknowledged")]
    level2 = rows[1]
    assert [r["id"] for r in level2.recipients if r["type"] == "user"] == [org_ctx.ids["admin"]]
    assert level2.detail == {"after": first.id, "from_level": 1}


def test_acknowledging_stops_reminders_and_the_next_level(org_ctx):
    incident_id = org_ctx.file(severity="sev3", jurisdictions=[], personal_data=False)
    (first,) = _escalations(incident_id)
    lead = org_ctx.actor("lead")
    acked = escalation.acknowledge(actor=lead, escalation_id=first.id)
    assert acked.acknowledged_at is not None and acked.acknowledged_by_id == lead.id
    again = escalation.acknowledge(actor=lead, escalation_id=first.id)
    assert again.acknowledged_at == acked.acknowledged_at
    escalation.sweep(now=first.created_at + timedelta(hours=3))
    rows = _escalations(incident_id)
    assert len(rows) == 1 and rows[0].repeats == 0
    entries = db.session.execute(select(LedgerEntry.actor, LedgerEntry.payload)
                                 .where(LedgerEntry.action == "acknowledge")).all()
    assert len(entries) == 1 and entries[0].actor.startswith(f"user:{lead.id} ")


def test_a_reporter_may_not_acknowledge(org_ctx):
    from app.errors import Forbidden

    incident_id = org_ctx.file(severity="sev3", jurisdictions=[], personal_data=False)
    (first,) = _escalations(incident_id)
    with pytest.raises(Forbidden):
        escalation.acknowledge(actor=org_ctx.actor("reporter"), escalation_id=first.id)


def test_closing_the_incident_drops_its_timers(org_ctx):
    incident_id = org_ctx.file(severity="sev3", jurisdictions=[], personal_data=False)
    lead = org_ctx.actor("lead")
    incident = incidents.get_incident(actor=lead, incident_id=incident_id)
    options = [t.name for t in engine.available_transitions(actor=lead, incident=incident,
                                                            definition=engine.definition_for(incident))]
    name = next(n for n in options if "close" in n or "dismiss" in n or "reject" in n)
    take(lead, incident, name)
    db.session.rollback()
    left = db.session.execute(select(func.count(EscalationTimer.id)).where(
        EscalationTimer.incident_id == incident_id, EscalationTimer.fired_at.is_(None))).scalar_one()
    assert left == 0


def test_overdue_pending_deliveries_are_enqueued_again(app, org_ctx, monkeypatch):
    monkeypatch.setitem(app.config, "DELIVERY_JOBS_ENABLED", True)
    sent = []
    monkeypatch.setattr(escalation.queue, "enqueue", lambda path, *args, **kw: sent.append((path, args)))
    incident_id = org_ctx.file(severity="sev3", jurisdictions=[], personal_data=False)
    assert len(sent) == 1  # the job after the filing's commit (here: not run)
    sent.clear()
    monkeypatch.setattr(escalation.queue, "enqueue", lambda path, *args, **kw: sent.append((path, args)))
    (first,) = _escalations(incident_id)
    assert escalation.requeue_deliveries(now=first.created_at + timedelta(seconds=1)) == 0
    assert escalation.requeue_deliveries(now=first.created_at + timedelta(minutes=2)) == 1
    assert sent == [(escalation.DELIVERY_JOB, (org_ctx.org.id, first.id))]


def test_sweeps_racing_in_threads_record_once(app, world):
    with app.app_context(), scoped(world.org.id):
        ids = [world.file(severity="sev4") for _ in range(5)]
        db.session.remove()
    later = datetime.now(timezone.utc) + timedelta(days=30)
    errors = []

    def run():
        try:
            with app.app_context():
                escalation.sweep(now=later, batch=3)
                db.session.remove()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with app.app_context(), scoped(world.org.id):
        keys = db.session.execute(select(Escalation.incident_id, Escalation.trigger, Escalation.level,
                                         Escalation.occurrence)).all()
        assert len(keys) == len(set(keys)) and len(keys) >= 5 * 4
        assert {k.incident_id for k in keys} == set(ids)
        db.session.remove()


def test_other_organisations_timers_fire_into_their_own_organisation(app, factory, world):
    other = World(app, factory)
    with app.app_context():
        with scoped(world.org.id):
            mine = world.file(severity="sev4", jurisdictions=[], personal_data=False)
        with scoped(other.org.id):
            theirs = other.file(severity="sev4", jurisdictions=[], personal_data=False)
        db.session.remove()
        escalation.sweep(now=datetime.now(timezone.utc) + timedelta(days=30))
        db.session.remove()
        with scoped(world.org.id):
            rows = _escalations()
            assert {e.incident_id for e in rows} == {mine}
            assert all(r["id"] in world.ids.values() for e in rows for r in e.recipients if r["type"] == "user")
        with scoped(other.org.id):
            assert {e.incident_id for e in _escalations()} == {theirs}
        db.session.remove()


# ---------------------------------------------------------------- API


def test_api_lists_an_incidents_escalations_in_the_contract_shape(app, client, factory, world):
    with app.app_context(), scoped(world.org.id):
        incident_id = world.file(severity="sev1")
        db.session.remove()
    lead = factory.token(orgs_user(app, world, "lead"))
    res = client.get(f"/api/v1/incidents/{incident_id}/escalations", headers={"Authorization": f"Bearer {lead}"})
    assert res.status_code == 200
    items = res.get_json()["items"]
    assert [i["level"] for i in items] == [1, 3]
    for item in items:
        assert {"id", "level", "reason", "rule", "recipients", "created_at", "acknowledged_at"} <= set(item)
        assert item["reason"] == "filed_severity" and item["acknowledged_at"] is None
    ack = client.post(f"/api/v1/escalations/{items[0]['id']}/acknowledge", headers={"Authorization": f"Bearer {lead}"})
    assert ack.status_code == 200 and ack.get_json()["acknowledged_at"]
    assert ack.get_json()["acknowledged_by"]["id"] == world.ids["lead"]
    still_open = client.get("/api/v1/escalations", headers={"Authorization": f"Bearer {lead}"}).get_json()["items"]
    assert [i["level"] for i in still_open] == [3]
    reporter = factory.token(orgs_user(app, world, "reporter"))
    mine = client.get(f"/api/v1/incidents/{incident_id}/escalations", headers={"Authorization": f"Bearer {reporter}"})
    assert mine.status_code == 200 and mine.get_json()["items"] == []
    assert client.get("/api/v1/escalations", headers={"Authorization": f"Bearer {reporter}"}).status_code == 403
    notes = client.get("/api/v1/notifications", headers={"Authorization": f"Bearer {lead}"}).get_json()
    assert notes["unread"] == 1 and notes["items"][0]["incident_id"] == incident_id


def orgs_user(app, world, role):
    with app.app_context(), scoped(world.org.id):
        user = orgs.get_user(world.ids[role])
        db.session.expunge(user)
        return user
