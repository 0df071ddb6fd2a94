"""The regulator-ready report pack: its contents, its formats, jobs with progress, roles and tenancy."""
import csv
import io
import json
import re
from datetime import datetime

import pytest

from app import queue
from app.extensions import db
from app.ledger import canonical
from app.ledger import service as ledger
from app.orgs import service as orgs
from app.reports import service as reports
from app.reports.models import ExportJob
from app.tenancy import scoped
from tests.reports.conftest import REVIEW

SECTIONS = ("meta", "facts", "ai_system", "timeline", "escalations", "deliveries", "deadlines",
            "corrective_actions", "review_findings", "ledger", "ledger_verification", "checkpoint")


def _pack_json(client, incident_id, lang="en"):
    resp = client.get(f"/incidents/{incident_id}/report-pack.json?lang={lang}")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert resp.headers["Content-Disposition"].startswith("attachment")
    return json.loads(resp.get_data(as_text=True))


def _recomputes(entry, org_id):
    body = canonical.entry_body(
        org_id=org_id, seq=entry["seq"], at=datetime.fromisoformat(entry["at"]),
        actor=entry["actor"], actor_id=entry["actor_id"], action=entry["action"],
        subject_type=entry["subject_type"], subject_id=entry["subject_id"], payload_text=entry["payload_text"])
    return canonical.entry_hash(entry["prev_hash"], body) == entry["hash"]


def test_pack_json_has_facts_timeline_escalations_deadlines_findings_and_ledger(pack_org, login):
    client = login(pack_org.lead)
    pack = _pack_json(client, pack_org.worked)

    assert pack["generated_at"].endswith("+00:00")
    assert pack["organisation"] == {"id": pack_org.org.id, "slug": "packs", "name": "株式会社パック",
                                    "timezone": "Asia/Tokyo"}
    facts = pack["facts"]
    assert facts["title"] == "チャットボットが他の顧客の注文履歴を表示"
    assert facts["severity"] == "sev1" and facts["state"] == "closed" and facts["is_open"] is False
    assert {"reporter", "assignee", "harmed_parties", "wrongful_purpose", "confidential", "updated_at",
            "acknowledged_at", "resolved_at", "deadlines", "version"} <= set(facts)
    assert facts["reporter"]["name"] == "Reporter 太郎"
    system = pack["ai_system"]
    assert system["name"] == "顧客対応チャットボット"
    assert system["training_sources"] == "Support tickets 2020-2025"
    assert system["deployment_context"] == "Customer support web chat"

    timeline = pack["timeline"]
    assert [e["action"] for e in timeline][0] == "filed"
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)
    assert timeline[0]["actor_name"] == "Reporter 太郎"
    transitions = [e["transition"] for e in timeline if e["action"] == "transition"]
    assert transitions == ["start_triage", "contain", "report_to_executives", "plan_remediation", "start_review",
                           "close"]
    contain = next(e for e in timeline if e["transition"] == "contain")
    assert contain["actor_name"] == "Lead 太郎"
    assert {"name": "containment_actions", "label": "Containment actions", "value": "Paused the chatbot"} in contain["fields"]

    assert pack["escalations"], "the sweep recorded escalations"
    first = pack["escalations"][0]
    assert {"level", "reason", "rule", "recipients", "created_at", "acknowledged_at", "acknowledged_by",
            "deliveries"} <= set(first)
    assert any(e["deliveries"] for e in pack["escalations"])
    delivery = next(d for e in pack["escalations"] for d in e["deliveries"])
    assert {"channel", "status", "attempts", "error"} <= set(delivery)

    promotion = next(d for d in pack["deadlines"] if d["rule"] == "jp-ai-promotion")
    assert promotion["met_at"] and promotion["met_by"] == "report_to_executives"
    assert promotion["outcome"] == "met_on_time"
    assert promotion["source"] and promotion["period"] and promotion["label"]
    assert {d["outcome"] for d in pack["deadlines"]} <= {"met_on_time", "met_late", "open"}

    actions = [(a["field"], a["value"]) for a in pack["corrective_actions"]]
    assert ("containment_actions", "Paused the chatbot") in actions
    assert ("remediation_plan", "Rebuild the retrieval index") in actions
    assert ("corrective_actions", REVIEW["corrective_actions"]) in actions
    findings = {f["field"]: f["value"] for f in pack["review_findings"]}
    assert findings == REVIEW

    entries = pack["ledger"]["entries"]
    assert entries and [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    assert all(e["subject_type"] == "incident" and e["subject_id"] == pack_org.worked for e in entries
               if e["subject_type"] == "incident")
    assert "escalate" in {e["action"] for e in entries}
    for entry in entries:
        assert _recomputes(entry, pack_org.org.id), entry["seq"]
        assert json.loads(entry["payload_text"]) == entry["payload"]
    assert pack["ledger_verification"]["ok"] is True and pack["ledger_verification"]["first_bad"] is None
    assert pack["checkpoint"] is None


def test_pack_carries_the_latest_signed_checkpoint(app, pack_org, login):
    with app.app_context():
        row = ledger.checkpoint(pack_org.org.id)
        seq = row.seq
        db.session.remove()
    pack = _pack_json(login(pack_org.admin), pack_org.worked)
    doc = pack["checkpoint"]
    assert doc["seq"] == seq and doc["algorithm"] == "ed25519"
    assert "BEGIN PUBLIC KEY" in doc["public_key"]
    with app.app_context():
        assert ledger.signature_ok(doc, doc["public_key"])
    assert pack["ledger_verification"]["checkpoint"]["matches"] is True


def test_progress_is_reported_up_to_the_total(app, pack_org):
    calls = []
    with app.app_context(), scoped(pack_org.org.id):
        actor = orgs.get_user(pack_org.lead.id)
        pack = reports.build_pack(actor=actor, incident_id=pack_org.worked, locale="ja",
                                  progress=lambda done, total: calls.append((done, total)))
        db.session.remove()
    total = len(reports.SECTIONS) + len(pack["ledger"]["entries"])
    assert calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert len(calls) >= len(reports.SECTIONS)


def test_csv_parses_and_has_every_section(pack_org, login):
    client = login(pack_org.executive)
    resp = client.get(f"/incidents/{pack_org.worked}/report-pack.csv?lang=ja")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/csv")
    raw = resp.get_data()
    assert raw.startswith("\ufeff".encode("utf-8"))
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["section", "key", "value"]
    assert {r[0] for r in rows[1:]} == set(SECTIONS)
    facts = {r[1]: r[2] for r in rows if r[0] == "facts"}
    assert facts["title"] == "チャットボットが他の顧客の注文履歴を表示"
    assert facts["aware_at"].endswith("+09:00")  # the organisation's zone
    assert ["meta", "_title", "報告パック"] in rows or any(r[:2] == ["meta", "_title"] for r in rows)
    ledger_header = next(r for r in rows if r[0] == "ledger" and r[1] == "#")
    assert ledger_header[2:] == list(reports.LEDGER_COLUMNS)
    ledger_rows = [r for r in rows if r[0] == "ledger" and r[1].isdigit()]
    assert ledger_rows and all(re.fullmatch(r"[0-9a-f]{64}", r[-1]) for r in ledger_rows)
    deadline_rows = [r for r in rows if r[0] == "deadlines" and r[1].isdigit()]
    assert any("jp-ai-promotion" in r and "met_on_time" in r for r in deadline_rows)
    findings = [r for r in rows if r[0] == "review_findings" and r[1].isdigit()]
    assert any(REVIEW["root_cause"] in r for r in findings)


@pytest.mark.parametrize("lang,headings", [
    ("en", ("Report pack", "Facts", "AI system", "Timeline", "Escalations", "Deadlines", "Corrective actions",
            "Post-incident review findings", "Ledger entries", "Signed checkpoint")),
    ("ja", None),
])
def test_printable_page_in_japanese_and_english(pack_org, login, lang, headings):
    client = login(pack_org.lead)
    resp = client.get(f"/incidents/{pack_org.worked}/report-pack?lang={lang}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'style="' not in html and "<script" not in html  # the CSP forbids inline ones
    assert "顧客対応チャットボット" in html and REVIEW["root_cause"] in html
    assert "JST" in html  # times in the organisation's zone
    h2 = re.findall(r"<h2[^>]*>([^<]+)</h2>", html)
    assert len(h2) >= 9
    if headings:
        for heading in headings:
            assert heading in html, heading
        assert 'lang="en"' in html
    else:
        # Japanese: the page's language, and the same sections (headings translated when the catalogue has them).
        assert '<html lang="ja"' in html
        assert "report-pack" in html


def test_pack_links_partial_renders(app, pack_org):
    from flask import render_template_string

    with app.test_request_context(), scoped(pack_org.org.id):
        from flask_login import login_user

        user = orgs.get_user(pack_org.lead.id)
        login_user(user)
        from app.incidents import service as incidents

        incident = incidents.get_incident(actor=user, incident_id=pack_org.worked)
        html = render_template_string('{% include "reports/_pack_links.html" %}', incident=incident)
        db.session.remove()
    assert f"/incidents/{pack_org.worked}/report-pack" in html
    assert f"/incidents/{pack_org.worked}/report-pack/jobs" in html and "csrf_token" in html


def _normalised(pack, drop_after_seq=None):
    pack = dict(pack)
    pack.pop("generated_at")
    pack["ledger"] = dict(pack["ledger"])
    pack["ledger"]["entries"] = [e for e in pack["ledger"]["entries"]
                                 if drop_after_seq is None or e["seq"] <= drop_after_seq]
    pack.pop("ledger_verification")
    pack["facts"] = dict(pack["facts"])
    return pack


def test_job_builds_with_progress_and_downloads_the_same_pack(app, pack_org, login, web_csrf):
    client = login(pack_org.lead)
    resp = client.post(f"/incidents/{pack_org.worked}/report-pack/jobs",
                       data={"format": "json", "lang": "en", "csrf_token": web_csrf(client)})
    assert resp.status_code == 303
    job_url = resp.headers["Location"]
    job_id = int(job_url.rstrip("/").rsplit("/", 1)[-1])
    with app.app_context():
        assert queue.wait_for_jobs(30)
    with app.app_context(), scoped(pack_org.org.id):
        job = db.session.get(ExportJob, job_id)
        assert job.status == "done", job.error
        assert job.total > 0 and job.progress == job.total
        assert job.filename.endswith(".json") and job.content_type.startswith("application/json")
        actions = [e.action for e in ledger.entries(org_id=pack_org.org.id, subject_type="incident",
                                                    subject_id=pack_org.worked, limit=1000)]
        db.session.remove()
    assert "report_pack_requested" in actions and "report_pack_built" in actions

    page = client.get(job_url).get_data(as_text=True)
    assert "<progress" in page and 'http-equiv="refresh"' not in page
    assert f"/report-jobs/{job_id}/download" in page

    download = client.get(f"/report-jobs/{job_id}/download")
    assert download.status_code == 200
    built = json.loads(download.get_data(as_text=True))
    direct = _pack_json(client, pack_org.worked, lang="en")
    # The direct export is newer by the job's own "report_pack_built" entry (and its time); else identical.
    last_seq = max(e["seq"] for e in built["ledger"]["entries"])
    assert _normalised(direct, drop_after_seq=last_seq) == _normalised(built)
    assert [e["action"] for e in direct["ledger"]["entries"] if e["seq"] > last_seq] == ["report_pack_built"]

    # Running the job again leaves a done job alone.
    from app.reports.jobs import build_pack_job

    with app.app_context():
        build_pack_job(pack_org.org.id, job_id)
        with scoped(pack_org.org.id):
            assert db.session.get(ExportJob, job_id).result == download.get_data()
            db.session.remove()


def test_queued_job_page_refreshes_itself(app, pack_org, login):
    with app.app_context(), scoped(pack_org.org.id):
        job = ExportJob(org_id=pack_org.org.id, user_id=pack_org.lead.id, kind="report_pack",
                        params={"incident_id": pack_org.worked, "format": "csv", "locale": "ja"})
        db.session.add(job)
        db.session.commit()
        job_id = job.id
        db.session.remove()
    client = login(pack_org.lead)
    page = client.get(f"/report-jobs/{job_id}").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="2">' in page and "<progress" in page
    assert client.get(f"/report-jobs/{job_id}/download").status_code == 409


def test_html_and_csv_jobs(app, pack_org):
    ids = {}
    for fmt in ("html", "csv"):
        ids[fmt] = pack_org.act(reports.create_pack_job, incident_id=pack_org.worked, fmt=fmt, locale="ja")
    with app.app_context():
        assert queue.wait_for_jobs(30)
    with app.app_context(), scoped(pack_org.org.id):
        html = db.session.get(ExportJob, ids["html"])
        assert html.status == "done", html.error
        assert html.result.decode("utf-8").count("<h2") >= 9 and html.content_type.startswith("text/html")
        text = db.session.get(ExportJob, ids["csv"]).result.decode("utf-8-sig")
        assert {r[0] for r in csv.reader(io.StringIO(text)) if r} >= set(SECTIONS)
        db.session.remove()


def test_jobs_are_their_owners_unless_admin(app, pack_org, login, client, auth):
    job_id = pack_org.act(reports.create_pack_job, role="responder", incident_id=pack_org.worked, fmt="json",
                          locale="en")
    with app.app_context():
        queue.wait_for_jobs(30)
    login(pack_org.lead)
    assert client.get(f"/report-jobs/{job_id}").status_code == 404
    assert client.get(f"/report-jobs/{job_id}/download").status_code == 404
    auth.logout()
    login(pack_org.admin)
    assert client.get(f"/report-jobs/{job_id}").status_code == 200
    assert client.get(f"/report-jobs/{job_id}/download").status_code == 200


def test_reporter_is_forbidden_and_another_org_is_not_found(app, pack_org, login, web_csrf):
    # The reporter filed the worked incident and may see it, but not its report pack.
    client = login(pack_org.reporter)
    for suffix in ("", ".json", ".csv"):
        assert client.get(f"/incidents/{pack_org.worked}/report-pack{suffix}").status_code == 403
    assert client.post(f"/incidents/{pack_org.worked}/report-pack/jobs",
                       data={"csrf_token": web_csrf(client)}).status_code == 403
    with app.app_context(), scoped(pack_org.org.id):
        actor = orgs.get_user(pack_org.reporter.id)
        from app.errors import Forbidden, NotFound

        with pytest.raises(Forbidden):
            reports.build_pack(actor=actor, incident_id=pack_org.worked, locale="ja")
        lead = orgs.get_user(pack_org.lead.id)
        with pytest.raises(NotFound):
            reports.build_pack(actor=lead, incident_id=pack_org.foreign_id, locale="ja")
        with pytest.raises(NotFound):
            reports.create_pack_job(actor=lead, incident_id=pack_org.foreign_id, fmt="json", locale="ja")
        db.session.remove()


def test_another_orgs_incident_is_404_on_the_web(pack_org, login, web_csrf):
    client = login(pack_org.admin)
    for suffix in ("", ".json", ".csv"):
        assert client.get(f"/incidents/{pack_org.foreign_id}/report-pack{suffix}").status_code == 404
    assert client.post(f"/incidents/{pack_org.foreign_id}/report-pack/jobs",
                       data={"csrf_token": web_csrf(client)}).status_code == 404


# ---------------------------------------------------------------- API


def _token(factory, user):
    return {"Authorization": f"Bearer {factory.token(user)}"}


def test_api_pack_json_and_csv(client, factory, pack_org):
    headers = _token(factory, pack_org.lead)
    resp = client.get(f"/api/v1/incidents/{pack_org.worked}/report-pack?lang=ja", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    pack = resp.get_json()
    assert pack["language"] == "ja" and pack["facts"]["id"] == pack_org.worked
    assert pack["ledger_verification"]["ok"] is True
    resp = client.get(f"/api/v1/incidents/{pack_org.worked}/report-pack?format=csv", headers=headers)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/csv")
    assert client.get(f"/api/v1/incidents/{pack_org.worked}/report-pack?format=xml",
                      headers=headers).status_code == 422


def test_api_job_lifecycle(app, client, factory, pack_org):
    headers = _token(factory, pack_org.executive)
    resp = client.post(f"/api/v1/incidents/{pack_org.worked}/report-pack/jobs", json={"format": "csv", "lang": "en"},
                       headers=headers)
    assert resp.status_code == 202, resp.get_json()
    job = resp.get_json()
    assert job["status"] in ("queued", "running", "done") and job["format"] == "csv"
    assert resp.headers["Location"].endswith(f"/api/v1/report-jobs/{job['id']}")
    with app.app_context():
        assert queue.wait_for_jobs(30)
    state = client.get(f"/api/v1/report-jobs/{job['id']}", headers=headers).get_json()
    assert state["status"] == "done" and state["progress"] == state["total"] > 0
    assert state["download_url"].endswith(f"/report-jobs/{job['id']}/download")
    download = client.get(f"/api/v1/report-jobs/{job['id']}/download", headers=headers)
    assert download.status_code == 200 and download.get_data().startswith("\ufeff".encode())
    # No body at all: JSON in the caller's language.
    assert client.post(f"/api/v1/incidents/{pack_org.worked}/report-pack/jobs", headers=headers).status_code == 202
    with app.app_context():
        queue.wait_for_jobs(30)


def test_api_reporter_403_and_other_org_404(client, factory, pack_org):
    reporter = _token(factory, pack_org.reporter)
    assert client.get(f"/api/v1/incidents/{pack_org.worked}/report-pack", headers=reporter).status_code == 403
    assert client.post(f"/api/v1/incidents/{pack_org.worked}/report-pack/jobs", json={},
                       headers=reporter).status_code == 403
    outsider = _token(factory, pack_org.outsider)
    assert client.get(f"/api/v1/incidents/{pack_org.worked}/report-pack", headers=outsider).status_code == 404
    lead = _token(factory, pack_org.lead)
    assert client.get(f"/api/v1/incidents/{pack_org.foreign_id}/report-pack", headers=lead).status_code == 404
