"""On PostgreSQL, 20 threads append to one organisation's ledger at once (filing and assigning
incidents through the services, each thread in its own application context, session and
connection): the appends queue on the organisation's head row, so the result is ONE linear
chain: sequence numbers 1..N without gaps or repeats, each prev_hash the previous hash, and
verify is ok."""
import threading

import pytest
from sqlalchemy import select

from app.extensions import db
from app.incidents import service as incidents
from app.ledger import canonical
from app.ledger import service as ledger
from app.ledger.models import LedgerEntry
from app.orgs import service as orgs
from app.queues import service as queues
from app.tenancy import scoped
from tests.ledger.conftest import parsed
from tests.conftest import incident_payload

pytestmark = pytest.mark.needs_postgres

THREADS = 20
FILINGS = 3


def test_twenty_threads_leave_one_linear_chain(app, factory):
    org = factory.org("chainco")
    leads = [factory.user(org, "lead") for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    errors, lock = [], threading.Lock()

    def work(user_id):
        with app.app_context(), scoped(org.id):
            try:
                actor = orgs.get_user(user_id)
                db.session.rollback()  # give the connection back while waiting (the pool is smaller than 20)
                barrier.wait(timeout=30)
                for i in range(FILINGS):
                    incident = incidents.file_incident(
                        actor=actor, data=parsed(incident_payload(title=f"by {user_id} #{i}", personal_data=False)))
                    queues.claim(actor=actor, incident_id=incident.id)
            except Exception as exc:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(lead.id,)) for lead in leads]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []

    with app.app_context():
        rows = list(db.session.execute(
            select(LedgerEntry).where(LedgerEntry.org_id == org.id).order_by(LedgerEntry.seq)
            .execution_options(all_orgs=True)).scalars())
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
        prev = canonical.GENESIS
        for row in rows:
            assert row.prev_hash == prev, row.seq
            prev = row.hash
        actions = [r.action for r in rows]
        assert actions.count("incident_filed") == THREADS * FILINGS
        assert actions.count("claimed") == THREADS * FILINGS
        # The ids follow the sequence numbers too (appends never interleave).
        assert [r.id for r in rows] == sorted(r.id for r in rows)
        result = ledger.verify(org.id)
        assert result["ok"] is True and result["entries"] == len(rows) == result["head"]["seq"]
        assert result["head"]["hash"] == prev
        db.session.remove()
