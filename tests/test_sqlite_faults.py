"""SQLite disk full: while incidents are being filed through the API and the escalation
sweep runs, the database stops growing (``PRAGMA max_page_count`` on every connection of
the app's engine: SQLite's own SQLITE_FULL path, "database or disk is full"). Filing then
answers a clear error (the API's error shape with 503 ``storage_full``, the web form a page
saying the storage is full), and nothing saved before is lost: once the limit is raised
again, the earlier incidents are all there, the sweep catches up and the ledger verifies."""
import re
import sqlite3
import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, text, update

from app.db import transaction, utcnow
from app.escalation import runner
from app.escalation import service as escalation
from app.escalation.models import EscalationTimer
from app.extensions import db
from app.tenancy import scoped
from tests.conftest import incident_payload, is_postgres
from tests.production._support import check_invariants
from tests.web.conftest import local_input

pytestmark = pytest.mark.skipif(is_postgres(), reason="SQLite's SQLITE_FULL (the SQLite pass)")


def _form_body():
    now = utcnow()
    return {"title": "ディスクが一杯の時の届出", "description": "Filed through the form while the disk is full.",
            "kind": "incident", "severity": "sev3", "occurred_at": local_input(now - timedelta(hours=5)),
            "aware_at": local_input(now - timedelta(hours=2)), "ai_system_id": "", "jurisdictions": ["JP"],
            "harm_types": ["privacy"], "harmed_parties": ["consumers"], "principles": ["privacy"],
            "harmed_count": "1", "sector": "retail", "personal_data": "y", "deaths": "0"}


def _csrf(client, path="/incidents/new"):
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


class DiskFull:
    """Caps the SQLite file at its current size on every connection of the app's engine."""

    def __init__(self, app):
        self.app = app
        self.pages = None

    def _cap(self, dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count={self.pages}")
        cursor.close()

    def __enter__(self):
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()  # pooled connections are replaced by capped ones below
            raw = sqlite3.connect(db.engine.url.database, isolation_level=None, timeout=15)
            try:
                raw.execute("VACUUM")  # no free pages left to reuse: the next growth fails
                self.pages = raw.execute("PRAGMA page_count").fetchone()[0]
            finally:
                raw.close()
            event.listen(db.engine, "connect", self._cap)
        return self

    def __exit__(self, *exc):
        with self.app.app_context():
            db.session.remove()
            event.remove(db.engine, "connect", self._cap)
            db.engine.dispose()
            with db.engine.connect() as conn:
                assert conn.execute(text("PRAGMA max_page_count")).scalar() > self.pages


def test_disk_full_gives_a_clear_error_and_loses_nothing(app, factory, auth):
    org = factory.org()
    reporter = factory.user(org, role="reporter")
    factory.user(org, role="lead")
    token = factory.token(reporter)
    headers = {"Authorization": f"Bearer {token}"}
    api = app.test_client()

    filed = []
    for n in range(5):
        res = api.post("/api/v1/incidents", json=incident_payload(title=f"Before the disk filled {n}"),
                       headers=headers)
        assert res.status_code == 201, res.get_json()
        filed.append(res.get_json()["id"])
    with app.app_context(), scoped(org.id):
        with transaction() as s:  # every timer is due: the sweep has work while the disk fills
            s.execute(update(EscalationTimer).values(due_at=utcnow() - timedelta(minutes=1))
                      .execution_options(synchronize_session=False))
        db.session.remove()
    assert auth.login(reporter.email).status_code == 302  # the web session, before the disk fills

    # Background: a filer through the API and the escalation sweep, as in production.
    stop = threading.Event()
    background = {"201": [], "503": 0, "other": []}

    def filer():
        client = app.test_client()
        n = 0
        while not stop.is_set():
            n += 1
            res = client.post("/api/v1/incidents", json=incident_payload(title=f"Background {n}"), headers=headers)
            if res.status_code == 201:
                background["201"].append(res.get_json()["id"])
            elif res.status_code == 503 and res.get_json()["error"]["code"] == "storage_full":
                background["503"] += 1
                stop.wait(0.05)
            else:
                background["other"].append((res.status_code, res.get_data(as_text=True)[:300]))

    def sweeper():
        while not stop.is_set():
            runner.run_once(app)  # logs and survives a failed sweep (the disk is full)
            stop.wait(0.1)

    threads = [threading.Thread(target=filer), threading.Thread(target=sweeper)]
    for t in threads:
        t.start()
    try:
        with DiskFull(app):
            full = None
            for n in range(500):
                res = api.post("/api/v1/incidents", json=incident_payload(title=f"While filling {n}"),
                               headers=headers)
                if res.status_code == 201:
                    filed.append(res.get_json()["id"])
                    continue
                full = res
                break
            assert full is not None, "the capped database never filled up"
            assert full.status_code == 503, full.get_data(as_text=True)
            assert full.headers["Content-Type"].startswith("application/json")
            error = full.get_json()["error"]
            assert error["code"] == "storage_full"
            assert "storage is full" in error["message"] and "nothing was saved" in error["message"]
            assert full.headers.get("Retry-After")

            # The web form: a page that says so (in English and in Japanese), not a generic 500.
            # (A small filing may still fit in a partly used page: file until one is refused.)
            for lang, expected in (("en", ["Storage full", "The storage is full: nothing was saved."]),
                                   ("ja", ["保存領域がいっぱい"])):
                for _ in range(100):
                    page = auth._client.post("/incidents/new",
                                             data={**_form_body(), "csrf_token": _csrf(auth._client)},
                                             headers={"Accept-Language": lang})
                    if page.status_code != 302:
                        break
                    filed.append(int(page.headers["Location"].rsplit("/", 1)[1]))
                assert page.status_code == 503, page.get_data(as_text=True)[:1000]
                html = page.get_data(as_text=True)
                assert all(text_ in html for text_ in expected), html
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert background["other"] == [], background["other"]
    filed += background["201"]

    # The limit is raised again: filing works, the sweep catches up, nothing saved was lost.
    res = api.post("/api/v1/incidents", json=incident_payload(title="After the disk was freed"), headers=headers)
    assert res.status_code == 201, res.get_json()
    filed.append(res.get_json()["id"])
    with app.app_context():
        swept_at = utcnow()
        escalation.sweep()
        db.session.remove()
    # total: the refused filings (API and form) left no incident behind.
    check_invariants(app, org.id, filed, total=len(filed), swept_at=swept_at)
