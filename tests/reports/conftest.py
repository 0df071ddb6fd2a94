"""Fixtures of the report pack tests: an organisation with every role, an incident worked
through its workflow (deadlines met, escalations recorded, review closed)."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from app import queue
from app.escalation import service as escalation
from app.extensions import db
from app.incidents import service as incidents
from app.orgs import service as orgs
from app.systems import service as systems
from app.tenancy import scoped
from app.workflow import engine
from tests.conftest import incident_payload

ROLES = ("reporter", "responder", "lead", "executive", "admin")
REVIEW = {
    "root_cause": "学習データに他の顧客の注文履歴が混入していた",
    "corrective_actions": "Purged the mixed records and retrained the retrieval index",
    "recurrence_prevention": "Per-customer isolation test before each release",
    "information_shared": "Affected customers and the PPC were informed",
}


def parsed(payload):
    return {k: datetime.fromisoformat(v) if k.endswith("_at") else v for k, v in payload.items()}


@pytest.fixture
def pack_org(app, factory):
    """Org ``packs`` (every role, one AI system), a foreign org with its own incident, and
    ``worked``: an incident taken from filing to closed, with escalations on the way."""
    org = factory.org("packs", name="株式会社パック")
    other = factory.org("faraway")
    users = {role: factory.user(org, role, name=f"{role.title()} 太郎") for role in ROLES}
    outsider = factory.user(other, "admin")
    with app.app_context(), scoped(org.id):
        system = systems.create_system(actor=users["admin"], data={
            "name": "顧客対応チャットボット", "purpose": "Answers customer questions", "actor_role": "business_user",
            "developer": "Example AI K.K.", "model_name": "chat-llm", "model_version": "2.1",
            "training_sources": "Support tickets 2020-2025", "deployment_context": "Customer support web chat"})
        system_id = system.id
        db.session.remove()
    with app.app_context(), scoped(other.id):
        foreign = incidents.file_incident(actor=outsider, data=parsed(incident_payload(title="Faraway secret")))
        foreign_id = foreign.id
        db.session.remove()

    def act(fn, role="lead", **kwargs):
        with app.app_context(), scoped(org.id):
            actor = orgs.get_user(users[role].id)
            result = fn(actor=actor, **kwargs)
            value = getattr(result, "id", result)
            db.session.remove()
            return value

    def take(incident_id, name, role="lead", **fields):
        with app.app_context(), scoped(org.id):
            actor = orgs.get_user(users[role].id)
            incident = incidents.get_incident(actor=actor, incident_id=incident_id)
            engine.transition(actor=actor, incident_id=incident_id, name=name, version=incident.version,
                              fields=fields)
            db.session.remove()

    now = datetime.now(timezone.utc)
    worked = act(incidents.file_incident, role="reporter", data=parsed(incident_payload(
        title="チャットボットが他の顧客の注文履歴を表示", severity="sev1", ai_system_id=system_id,
        personal_data=False,
        aware_at=(now - timedelta(hours=3)).isoformat(), occurred_at=(now - timedelta(hours=6)).isoformat())))
    take(worked, "start_triage", triage_notes="Looks real")
    take(worked, "contain", containment_actions="Paused the chatbot", system_suspended=True)
    with app.app_context():
        escalation.sweep(now=now + timedelta(days=40))  # every timer due: escalations recorded
        queue.wait_for_jobs()
    take(worked, "report_to_executives", reported_to="CAIO", executive_summary="Summary for the board")
    take(worked, "plan_remediation", remediation_plan="Rebuild the retrieval index")
    take(worked, "start_review", remediation_summary="Index rebuilt and tested")
    take(worked, "close", **REVIEW)
    with app.app_context():
        queue.wait_for_jobs()
    return SimpleNamespace(org=org, other=other, users=users, outsider=outsider, system_id=system_id,
                           foreign_id=foreign_id, worked=worked, act=act, take=take, **users)


@pytest.fixture
def login(client, auth):
    def _login(user):
        assert auth.login(user.email).status_code == 302
        return client

    return _login


@pytest.fixture
def web_csrf():
    """``web_csrf(client)``: a CSRF token of the client's session."""
    from tests.web.conftest import csrf_of

    def _token(client):
        return csrf_of(client.get("/account").get_data(as_text=True))

    return _token


@pytest.fixture(autouse=True)
def _jobs_in_process(app, monkeypatch):
    """Report jobs run on the in-process thread here, also in the PostgreSQL + Redis pass
    (tests/production/test_redis_queue.py covers jobs through real Redis and RQ workers)."""
    monkeypatch.setitem(app.config, "REDIS_URL", None)
