"""The embedded default: the web process sweeps on a background thread; the CLI sweeps once
or every N seconds."""
import json
from datetime import timedelta

from sqlalchemy import func, select, update

from app.db import transaction, utcnow
from app.escalation import runner as sweeper
from app.escalation.models import Escalation, EscalationTimer
from app.extensions import db
from app.incidents import service as incidents
from app.orgs import service as orgs
from app.tenancy import scoped
from tests.web.conftest import incident_data


def _due_incident(app, factory):
    org = factory.org()
    factory.user(org, "lead")
    reporter = factory.user(org, "reporter")
    with app.app_context(), scoped(org.id):
        incidents.file_incident(actor=orgs.get_user(reporter.id),
                                data=incident_data(severity="sev4", personal_data=False, jurisdictions=[]))
        with transaction() as s:
            s.execute(update(EscalationTimer).values(due_at=utcnow() - timedelta(seconds=1))
                      .execution_options(synchronize_session=False))
        db.session.remove()
    return org


def _recorded(app, org):
    with app.app_context(), scoped(org.id):
        n = db.session.execute(select(func.count(Escalation.id))).scalar_one()
        db.session.remove()
        return n


def test_the_web_process_starts_its_sweeping_thread_on_its_first_request(app, factory, monkeypatch,
                                                                         make_app, fresh_database_url):
    started = []
    monkeypatch.setattr(sweeper, "start_in_process", lambda a: started.append(a))
    embedded = make_app(fresh_database_url, ESCALATION_SWEEP_IN_PROCESS=True)
    quiet = make_app(fresh_database_url, ESCALATION_SWEEP_IN_PROCESS=False)
    assert embedded.test_client().get("/healthz").status_code == 200
    assert quiet.test_client().get("/healthz").status_code == 200
    assert started == [embedded]
    # The loop itself records what is due.
    org = _due_incident(app, factory)
    sweeper.loop(app, 0, iterations=1)
    assert _recorded(app, org) == 1


def test_flask_escalation_sweep_once_prints_its_counts(app, factory, runner):
    org = _due_incident(app, factory)
    result = runner.invoke(args=["escalation", "sweep"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output.strip().splitlines()[-1])
    assert counts["fired"] == 1 and counts["recorded"] == 1
    assert _recorded(app, org) == 1
    again = runner.invoke(args=["escalation", "sweep"])
    assert json.loads(again.output.strip().splitlines()[-1])["recorded"] == 0


def test_flask_escalation_sweep_every_n_seconds(app, factory, runner):
    org = _due_incident(app, factory)
    result = runner.invoke(args=["escalation", "sweep", "--every", "1", "--iterations", "2"])
    assert result.exit_code == 0, result.output
    assert "sweeping every 1 s" in result.output
    assert _recorded(app, org) == 1
