"""A planned data set for the dashboard: incidents filed through the services at known times,
moved through their workflows at known times (the engine's clock is set per transition),
deadlines from the deadline engine, ministry requests, and another organisation's incidents."""
from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

import pytest

from app.db import utcnow
from app.extensions import db
from app.incidents import service as incidents
from app.liaison import service as liaison
from app.orgs import service as orgs
from app.systems import service as systems
from app.tenancy import scoped
from app.workflow import engine

H = timedelta(hours=1)
D = timedelta(days=1)


@contextmanager
def clock(at):
    """Run the transition engine (and the deadline engine) as if it were ``at``."""
    with mock.patch("app.workflow.engine.utcnow", return_value=at), \
            mock.patch("app.incidents.deadlines.utcnow", return_value=at):
        yield


def fields_for(spec):
    """Values for every required field of a transition."""
    out = {}
    for f in spec.fields:
        if not f.required:
            continue
        out[f.name] = {"choice": (f.options or ("other",))[0], "int": 1, "bool": True,
                       "datetime": "2026-01-01T00:00:00+00:00"}.get(f.type, "planned test value")
    return out


class Plan:
    """Files and moves the planned incidents; remembers what it did for the expectations."""

    def __init__(self, app, factory):
        self.app, self.factory = app, factory
        self.now = utcnow().replace(microsecond=0)
        self.org = factory.org(slug="plan", name="計画株式会社")
        self.other = factory.org(slug="other", name="Other KK")
        self.admin = factory.user(self.org, "admin")
        self.executive = factory.user(self.org, "executive", locale="ja")
        self.lead = factory.user(self.other, "lead")
        self.ids = {}
        self.filed = {}

    def actor(self, user):
        return orgs.get_user(user.id)

    def file(self, key, *, org_user, filed_ago, **data):
        """File an incident ``filed_ago`` before now (aware one hour before filing)."""
        filed_at = self.now - filed_ago
        body = {
            "title": f"計画インシデント {key}", "description": "ダッシュボードの試験用。",
            "severity": "sev3", "occurred_at": filed_at - 2 * H, "aware_at": filed_at - H,
        }
        body.update(data)
        with self.app.app_context(), scoped(org_user.org_id):
            incident = incidents.file_incident(actor=self.actor(org_user), data=body, filed_at=filed_at)
            self.ids[key], self.filed[key] = incident.id, filed_at
            db.session.remove()
        return self.ids[key]

    def move(self, key, name, *, after, user=None):
        """Take transition ``name`` at ``after`` past the filing time."""
        user = user or self.admin
        with self.app.app_context(), scoped(user.org_id):
            actor = self.actor(user)
            incident = incidents.get_incident(actor=actor, incident_id=self.ids[key])
            spec = engine.find_transition(engine.definition_for(incident), name, incident.state)
            with clock(self.filed[key] + after):
                engine.transition(actor=actor, incident_id=incident.id, name=name, version=incident.version,
                                  fields=fields_for(spec))
            db.session.remove()


@pytest.fixture
def plan(app, factory):
    """The planned data set (see the module docstring and test_service.py for what it holds)."""
    p = Plan(app, factory)
    with app.app_context(), scoped(p.org.id):
        admin = orgs.get_user(p.admin.id)
        p.s1 = systems.create_system(actor=admin, data={"name": "サポートチャットボット", "actor_role": "provider"}).id
        p.s2 = systems.create_system(actor=admin, data={"name": "Credit scoring", "actor_role": "developer"}).id
        liaison.create_request(actor=admin, data={
            "ministry": "meti", "kind": "request", "reference": "METI-2026-01",
            "received_at": p.now - 3 * D, "requested_actions": "報告を求める。"})
        db.session.remove()
    jp_pd = {"jurisdictions": ["JP"], "personal_data": True}
    # A: SEV1, chatbot, JP personal data, 10 days ago; triage at +1 h, contained (acknowledged) at +3 h.
    p.file("A", org_user=p.admin, filed_ago=10 * D, severity="sev1", ai_system_id=p.s1, harm_types=["privacy"],
           principles=["privacy"], **jp_pd)
    p.move("A", "start_triage", after=H)
    p.move("A", "contain", after=3 * H)
    # B: SEV2, credit scoring, EU, 20 days ago; triage at +30 min, dismissed (acknowledged and resolved) at +5 d.
    p.file("B", org_user=p.admin, filed_ago=20 * D, severity="sev2", ai_system_id=p.s2, jurisdictions=["EU"],
           harm_types=["discrimination", "economic"], principles=["fairness"])
    p.move("B", "start_triage", after=H / 2)
    p.move("B", "dismiss", after=5 * D)
    # C: SEV3, no AI system, JP personal data, 40 days ago; still reported (never acknowledged).
    p.file("C", org_user=p.admin, filed_ago=40 * D, severity="sev3", harm_types=["economic"], **jp_pd)
    # E: SEV2, chatbot, JP personal data, 5 days ago; acknowledged (contained) at +1 d.
    p.file("E", org_user=p.admin, filed_ago=5 * D, severity="sev2", ai_system_id=p.s1, harm_types=["privacy"],
           principles=["privacy", "transparency"], **jp_pd)
    p.move("E", "start_triage", after=2 * H)
    p.move("E", "contain", after=D)
    # F: SEV4, chatbot, JP personal data, 26 days ago: its APPI final report falls due within 7 days.
    p.file("F", org_user=p.admin, filed_ago=26 * D, severity="sev4", ai_system_id=p.s1, **jp_pd)
    # G: SEV3, credit scoring, 30 days ago; dismissed straight from reported at +12 h.
    p.file("G", org_user=p.admin, filed_ago=30 * D, severity="sev3", ai_system_id=p.s2, jurisdictions=["JP"])
    p.move("G", "dismiss", after=12 * H)
    # D: SEV4, 200 days ago, dismissed at +1 d: outside the 90-day period for every period figure.
    p.file("D", org_user=p.admin, filed_ago=200 * D, severity="sev4", ai_system_id=p.s1, jurisdictions=["JP"],
           harm_types=["privacy"])
    p.move("D", "dismiss", after=D)
    # Another organisation: four open SEV1s with overdue deadlines, a system, a ministry request. Never counted.
    p.other_lead = p.lead
    for n in range(4):
        p.file(f"X{n}", org_user=p.lead, filed_ago=(n + 2) * D, severity="sev1", harm_types=["physical"],
               principles=["safety"], jurisdictions=["JP", "EU"], personal_data=True)
    with app.app_context(), scoped(p.other.id):
        liaison.create_request(actor=orgs.get_user(p.lead.id), data={
            "ministry": "mic", "kind": "guidance", "received_at": p.now - D})
        db.session.remove()
    return p


from tests.web.conftest import live_server, web  # noqa: E402,F401  (the web tests' fixtures)
