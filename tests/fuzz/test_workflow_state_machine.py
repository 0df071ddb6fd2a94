"""A Hypothesis state machine over the workflow engine and the incident services, in process.

Rules file incidents with random facts, take random available transitions (with plausible
field values) and stale-version ones (Conflict), edit facts, assign, link and unlink
ministry requests, run the escalation sweep at advancing fake times and acknowledge
escalations. After every step the invariants hold for every incident:

- the version never decreases and grows by exactly one per successful change;
- the timeline has one event per successful action, in order;
- deadlines are consistent: every unmet regulatory/internal deadline applies to the current
  facts, only transitions whose ``meets`` include a rule have met it, and ``queue_due_at``
  is the nearest unmet due time (FAR_FUTURE when none);
- closed incidents have ``is_open`` False and no unfired escalation timer;
- escalation keys are unique; the ledger verifies and has one entry per successful action.

Budget: ``FUZZ_EXAMPLES`` runs (default 25; at most 15 here in CI) of ``FUZZ_STEPS`` steps.
"""
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, Phase, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import func, select

from app.errors import Conflict, Forbidden, NotFound
from app.escalation import service as escalation
from app.escalation.models import Escalation, EscalationTimer
from app.extensions import db
from app.incidents import deadlines, service as incidents, vocab
from app.incidents.models import FAR_FUTURE, Incident
from app.ledger import service as ledger
from app.liaison import service as liaison
from app.orgs.models import User
from app.queues import service as queues
from app.tenancy import scoped
from app.workflow import engine
from tests.fuzz.conftest import FUZZ_DERANDOMIZE, FUZZ_EXAMPLES, FUZZ_SHRINK, FUZZ_STEPS

EXAMPLES = FUZZ_EXAMPLES if FUZZ_EXAMPLES > 25 else min(FUZZ_EXAMPLES, 15)
ROLES = ("admin", "lead", "responder", "executive", "reporter")

FACTS = st.fixed_dictionaries({
    "severity": st.sampled_from(list(vocab.SEVERITIES)),
    "kind": st.sampled_from(list(vocab.KINDS)),
    "jurisdictions": st.lists(st.sampled_from(list(vocab.JURISDICTIONS)), max_size=3, unique=True),
    "personal_data": st.booleans(),
    "deaths": st.integers(0, 3),
    "serious_incident": st.booleans(),
    "critical_infrastructure": st.booleans(),
    "widespread_infringement": st.booleans(),
})
EDITS = st.dictionaries(
    st.sampled_from(["severity", "kind", "jurisdictions", "personal_data", "deaths", "serious_incident",
                     "title", "harm_types"]),
    st.none(), min_size=1, max_size=3,
)


def field_value(spec, draw):
    """A plausible value for a transition field of ``spec.type``."""
    kind = spec.type
    if kind in ("text", "textarea"):
        return draw(st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40)
                    .filter(str.strip))
    if kind == "datetime":
        return (datetime.now(timezone.utc) - timedelta(minutes=draw(st.integers(0, 600)))).isoformat()
    if kind == "bool":
        return draw(st.booleans())
    if kind == "int":
        return draw(st.integers(0, 1000))
    if kind == "choice":
        return draw(st.sampled_from(spec.options))
    if kind == "multichoice":
        return draw(st.lists(st.sampled_from(spec.options), min_size=1, unique=True))
    raise AssertionError(f"unknown field type {kind}")


def _edit_value(key, draw):
    if key == "severity":
        return draw(st.sampled_from(list(vocab.SEVERITIES)))
    if key == "kind":
        return draw(st.sampled_from(list(vocab.KINDS)))
    if key == "jurisdictions":
        return draw(st.lists(st.sampled_from(list(vocab.JURISDICTIONS)), max_size=3, unique=True))
    if key == "harm_types":
        return draw(st.lists(st.sampled_from(list(vocab.HARM_TYPES)), max_size=3, unique=True))
    if key in ("personal_data", "serious_incident"):
        return draw(st.booleans())
    if key == "deaths":
        return draw(st.integers(0, 3))
    return draw(st.text("abcdefg あいう", min_size=1, max_size=30).filter(str.strip))


def test_workflow_state_machine(app, factory):
    """Random sequences of actions on incidents keep every invariant (see the module docstring)."""

    class Workflow(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.org = factory.org()
            self.users = {role: factory.user(self.org, role) for role in ROLES}
            self.versions = {}  # incident id -> version we expect
            self.actions = {}  # incident id -> expected timeline actions, in order
            self.ledger_count = 0
            self.clock = datetime.now(timezone.utc)
            with self._ctx():
                item = liaison.create_request(actor=self._user("admin"), data={
                    "ministry": "METI", "received_at": self.clock - timedelta(hours=1), "reference": "Fuzz"})
                self.request_id = item.id
            with self._ctx():
                # Whatever creating the request recorded; entries of escalations (recorded on
                # filing, on changes and by the sweep: one per record and per reminder) are
                # counted from the escalation rows.
                self.ledger_count = self._ledger_total() - self._escalation_work()

        # ---- helpers
        def _ctx(self):
            machine = self

            class _Ctx:
                def __enter__(self):
                    self._app = app.app_context()
                    self._app.__enter__()
                    self._scope = scoped(machine.org.id)
                    self._scope.__enter__()

                def __exit__(self, *exc):
                    db.session.rollback()
                    db.session.remove()
                    self._scope.__exit__(*exc)
                    self._app.__exit__(*exc)

            return _Ctx()

        def _user(self, role):
            return db.session.get(User, self.users[role].id)

        def _ledger_total(self):
            return ledger.count(self.org.id)

        def _escalation_work(self):
            rows = db.session.execute(select(func.count(Escalation.id), func.coalesce(func.sum(Escalation.repeats), 0))
                                      .where(Escalation.org_id == self.org.id)).one()
            return rows[0] + rows[1]

        # ---- rules
        @rule(facts=FACTS, reporter=st.sampled_from(ROLES), data=st.data())
        def file(self, facts, reporter, data):
            now = datetime.now(timezone.utc)
            aware = now - timedelta(hours=data.draw(st.integers(0, 100)))
            body = dict(facts, title="Fuzzed incident", description="Filed by the state machine.",
                        occurred_at=aware - timedelta(hours=1), aware_at=aware)
            with self._ctx():
                incident = incidents.file_incident(actor=self._user(reporter), data=body)
                self.versions[incident.id] = incident.version
                self.actions[incident.id] = ["filed"]
            self.ledger_count += 1

        @precondition(lambda self: self.versions)
        @rule(data=st.data())
        def transition(self, data):
            incident_id = data.draw(st.sampled_from(sorted(self.versions)))
            with self._ctx():
                incident = db.session.get(Incident, incident_id)
                options = [(role, t) for role in ROLES
                           for t in engine.available_transitions(actor=self._user(role), incident=incident)]
                if not options:
                    return
                role, spec = data.draw(st.sampled_from(options))
                fields = {}
                for f in spec.fields:
                    if f.required or data.draw(st.booleans()):
                        fields[f.name] = field_value(f, data.draw)
                done = engine.transition(actor=self._user(role), incident_id=incident_id, name=spec.name,
                                         version=self.versions[incident_id], comment="fuzz", fields=fields)
            self.versions[incident_id] += 1
            self.actions[incident_id].append("transition")
            self.ledger_count += 1

        @precondition(lambda self: self.versions)
        @rule(data=st.data(), delta=st.sampled_from([-1, 1, 5]))
        def stale_transition(self, data, delta):
            incident_id = data.draw(st.sampled_from(sorted(self.versions)))
            with self._ctx():
                incident = db.session.get(Incident, incident_id)
                options = engine.available_transitions(actor=self._user("admin"), incident=incident)
                if not options:
                    return
                spec = data.draw(st.sampled_from(options))
                stale = self.versions[incident_id] + delta
                with pytest.raises(Conflict):
                    engine.transition(actor=self._user("admin"), incident_id=incident_id, name=spec.name,
                                      version=stale, fields={})

        @precondition(lambda self: self.versions)
        @rule(data=st.data(), role=st.sampled_from(ROLES), edits=EDITS)
        def edit(self, data, role, edits):
            incident_id = data.draw(st.sampled_from(sorted(self.versions)))
            values = {key: _edit_value(key, data.draw) for key in edits}
            with self._ctx():
                before = db.session.get(Incident, incident_id)
                changed = any(getattr(before, key) != value for key, value in values.items())
                try:
                    incidents.update_incident(actor=self._user(role), incident_id=incident_id,
                                              version=self.versions[incident_id], data=values)
                except (Forbidden, NotFound):  # a reporter does not even see others' incidents
                    assert role in ("reporter", "executive")
                    return
            if changed:
                self.versions[incident_id] += 1
                self.actions[incident_id].append("edited")
                self.ledger_count += 1

        @precondition(lambda self: self.versions)
        @rule(data=st.data(), role=st.sampled_from(("admin", "lead", "responder")),
              to=st.sampled_from(("admin", "lead", "responder", None)))
        def assign(self, data, role, to):
            incident_id = data.draw(st.sampled_from(sorted(self.versions)))
            with self._ctx():
                actor = self._user(role)
                assignee = self._user(to) if to else None
                before = db.session.get(Incident, incident_id).assignee_id
                try:
                    queues.assign(actor=actor, incident_id=incident_id, assignee_id=assignee.id if assignee else None,
                                  version=self.versions[incident_id])
                except Forbidden:
                    assert role == "responder"
                    return
                action = queues._action(actor, assignee)
            if before != (assignee.id if assignee else None):
                self.versions[incident_id] += 1
                self.actions[incident_id].append(action)
                self.ledger_count += 1

        @precondition(lambda self: self.versions)
        @rule(data=st.data(), linked=st.booleans())
        def link_or_unlink(self, data, linked):
            incident_id = data.draw(st.sampled_from(sorted(self.versions)))
            with self._ctx():
                was = any(i.id == incident_id for i in liaison.linked_incidents(
                    actor=self._user("admin"), request_id=self.request_id))
                call = liaison.link if linked else liaison.unlink
                call(actor=self._user("admin"), request_id=self.request_id, incident_id=incident_id)
            if was != linked:
                self.actions[incident_id].append("ministry_request_linked" if linked else "ministry_request_unlinked")
                self.ledger_count += 1

        @rule(hours=st.sampled_from([0.5, 2, 12, 30, 80, 200]))
        def sweep(self, hours):
            self.clock += timedelta(hours=hours)
            with app.app_context():
                escalation.sweep(now=self.clock)
                db.session.remove()

        @rule(data=st.data(), role=st.sampled_from(("admin", "lead", "responder", "executive", "reporter")))
        def acknowledge(self, data, role):
            with self._ctx():
                ids = list(db.session.execute(select(Escalation.id, Escalation.acknowledged_at)
                                              .where(Escalation.org_id == self.org.id)).all())
                if not ids:
                    return
                escalation_id, acked = data.draw(st.sampled_from(sorted(ids, key=lambda r: r[0])))
                try:
                    escalation.acknowledge(actor=self._user(role), escalation_id=escalation_id)
                except (Forbidden, NotFound):
                    assert role == "reporter"
                    return
            if acked is None:
                self.ledger_count += 1

        # ---- invariants
        @invariant()
        def incidents_are_consistent(self):
            if not self.versions:
                return
            with self._ctx():
                admin = self._user("admin")
                for incident_id, version in self.versions.items():
                    incident = db.session.get(Incident, incident_id)
                    assert incident.version == version, (incident.version, version)
                    _, events = incidents.timeline_with_incident(actor=admin, incident_id=incident_id)
                    assert [e.action for e in events] == self.actions[incident_id]
                    assert [e.id for e in events] == sorted(e.id for e in events)
                    self._deadlines_ok(incident)
                    definition = engine.definition_for(incident)
                    closed = definition.states[incident.state].category == "closed"
                    assert incident.is_open is (not closed)
                    if closed:
                        assert incident.resolved_at is not None
                        pending = db.session.execute(select(func.count(EscalationTimer.id)).where(
                            EscalationTimer.incident_id == incident_id, EscalationTimer.fired_at.is_(None))).scalar()
                        assert pending == 0, f"closed incident {incident_id} has {pending} unfired timers"

        def _deadlines_ok(self, incident):
            facts = deadlines.incident_facts(db.session, incident)
            applicable = {a.id for a in deadlines.applicable_rules(incident, facts)}
            definition = engine.definition_for(incident)
            meets = {}
            for t in definition.transitions:
                for rule_id in t.meets:
                    meets.setdefault(rule_id, set()).add(t.name)
            for d in incident.deadlines:
                if d.kind == "state_target":
                    continue
                if d.met_at is None:
                    assert d.rule in applicable, f"unmet {d.rule} no longer applies to {facts}"
                else:
                    assert d.met_by in meets.get(d.rule, ()), f"{d.rule} met by {d.met_by}"
            assert incident.queue_due_at == deadlines.nearest_due(incident)
            pending = [d.due_at for d in incident.deadlines if d.met_at is None]
            assert incident.queue_due_at == (min(pending) if pending else FAR_FUTURE)

        @invariant()
        def escalations_and_ledger(self):
            with self._ctx():
                keys = db.session.execute(select(Escalation.incident_id, Escalation.trigger, Escalation.level,
                                                 Escalation.occurrence).where(Escalation.org_id == self.org.id)).all()
                assert not [k for k, n in Counter(keys).items() if n > 1]
                result = ledger.verify(self.org.id)
                assert result["ok"], result
                assert self._ledger_total() == self.ledger_count + self._escalation_work()

    run_state_machine_as_test(Workflow, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=FUZZ_STEPS, deadline=None, database=None,
        derandomize=FUZZ_DERANDOMIZE,
        suppress_health_check=list(HealthCheck),
        # No shrinking in CI (a failing run of many steps can take minutes to shrink); FUZZ_SHRINK=1 for it.
        phases=[Phase.explicit, Phase.generate] + ([Phase.shrink] if FUZZ_SHRINK else []),
    ))
