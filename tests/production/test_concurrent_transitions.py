"""On PostgreSQL, 20 callers take the same transition of one incident with the same version
at once, each in its own application context (session, connection): exactly one wins, the
19 others get a Conflict (409), the version grows by exactly one and the timeline holds one
transition event: no update is lost or doubled."""
import threading

import pytest
from sqlalchemy import select

from app.errors import Conflict
from app.extensions import db
from app.incidents import service as incidents
from app.incidents.models import Incident, TimelineEvent
from app.orgs import service as orgs
from app.tenancy import scoped
from app.workflow import engine
from tests.web.conftest import incident_data
from tests.workflow.test_engine_defs import DEFINITION

pytestmark = pytest.mark.needs_postgres

CALLERS = 20


def test_twenty_concurrent_transitions_of_one_version(app, factory, monkeypatch):
    monkeypatch.setattr(engine, "definition_for", lambda incident: DEFINITION)
    org = factory.org()
    leads = [factory.user(org, "lead") for _ in range(CALLERS)]
    with app.app_context(), scoped(org.id):
        incident = incidents.file_incident(actor=orgs.get_user(leads[0].id), data=incident_data(personal_data=False))
        incident.state = "reported"
        db.session.commit()
        incident_id, version = incident.id, incident.version
        db.session.remove()

    barrier = threading.Barrier(CALLERS)
    outcomes, lock = [], threading.Lock()

    def take(user_id):
        with app.app_context(), scoped(org.id):
            try:
                actor = orgs.get_user(user_id)
                assert incidents.get_incident(actor=actor, incident_id=incident_id).version == version
                db.session.rollback()  # give the connection back while waiting (the pool is smaller than 20)
                barrier.wait(timeout=30)
                engine.transition(actor=actor, incident_id=incident_id, name="start_triage", version=version,
                                  comment=f"by {user_id}")
                result = "won"
            except Conflict:
                result = "conflict"
            except Exception as exc:  # noqa: BLE001 - reported below
                result = repr(exc)
            finally:
                db.session.remove()
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=take, args=(lead.id,)) for lead in leads]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["conflict"] * (CALLERS - 1) + ["won"], outcomes

    with app.app_context(), scoped(org.id):
        incident = db.session.get(Incident, incident_id)
        assert incident.state == "triage"
        assert incident.version == version + 1
        moves = db.session.execute(select(TimelineEvent).where(
            TimelineEvent.incident_id == incident_id, TimelineEvent.action == "transition")).scalars().all()
        assert len(moves) == 1 and moves[0].to_state == "triage"
        db.session.remove()
