"""Exports: CSV that opens with the right columns, JSON of the API view, AIID drafts, all scoped and streamed."""
import csv
import io
import json
import re
from datetime import datetime

from app.exports import service as exports
from app.extensions import db
from app.incidents import service as incidents
from app.tenancy import scoped

COLUMNS = [
    "ref", "title", "description", "kind", "severity", "state", "workflow", "occurred_at", "aware_at",
    "filed_at", "ai_system", "jurisdictions", "harm_types", "harmed_parties", "harmed_count", "sector",
    "principles", "personal_data", "deaths", "serious_incident", "critical_infrastructure",
    "widespread_infringement", "reporter", "assignee", "acknowledged_at", "resolved_at", "next_deadline",
]
JA_TITLE = "チャットボットが他の顧客の注文履歴を表示した"
JA_TEXT = "サポート用チャットボットが、別の顧客の氏名と住所を含む注文内容を回答した。"


def read_csv(resp):
    """The rows of a CSV download, parsed as Excel would (BOM first, then UTF-8)."""
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    raw = resp.get_data()
    assert raw.startswith(b"\xef\xbb\xbf"), "a BOM, so Excel reads UTF-8"
    reader = csv.DictReader(io.StringIO(raw[3:].decode("utf-8"), newline=""))
    rows = list(reader)
    assert reader.fieldnames == COLUMNS
    return rows


def by_title(rows):
    return {row["title"]: row for row in rows}


def test_csv_opens_with_the_documented_columns(team, login):
    team.file(title=JA_TITLE, description=JA_TEXT, severity="sev1", ai_system_id=team.system_id,
              jurisdictions=["JP", "EU"], harm_types=["privacy", "discrimination"], harmed_parties=["consumers"],
              harmed_count=12, sector="retail", principles=["privacy"], personal_data=True)
    team.file(title="Second incident", severity="sev3")
    client = login(team.lead)
    resp = client.get("/incidents/export.csv")
    assert resp.mimetype == "text/csv"
    assert resp.is_streamed
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert re.search(r'filename="incidents-expo-\d{8}\.csv"', disposition)
    rows = read_csv(resp)
    assert list(exports.CSV_COLUMNS) == COLUMNS
    assert [row["title"] for row in rows] == ["Second incident", JA_TITLE]  # newest first
    row = by_title(rows)[JA_TITLE]
    assert row["description"] == JA_TEXT
    assert row["ref"] == "AI-0001"
    assert row["severity"] == "sev1" and row["kind"] == "incident" and row["state"] and row["workflow"]
    assert row["ai_system"] == "顧客対応チャットボット"
    assert row["jurisdictions"] == "JP;EU"
    assert row["harm_types"] == "privacy;discrimination"
    assert row["harmed_parties"] == "consumers" and row["harmed_count"] == "12" and row["sector"] == "retail"
    assert row["principles"] == "privacy" and row["personal_data"] == "true" and row["deaths"] == "0"
    assert row["reporter"].endswith(f"<{team.lead.email}>")
    # Times in ISO 8601 with the organisation's offset (Asia/Tokyo).
    for column in ("occurred_at", "aware_at", "filed_at", "next_deadline"):
        assert row[column].endswith("+09:00"), (column, row[column])
        datetime.fromisoformat(row[column])
    assert row["resolved_at"] == "" and row["acknowledged_at"] == ""
    assert "Elsewhere's secret incident" not in resp.get_data(as_text=True)


def test_confidential_reporter_hidden_from_lead_shown_to_admin(team, login, client, auth):
    team.file(as_="responder", title="Whistle-blown", confidential=True)
    team.file(as_="responder", title="Open filing")
    lead_rows = by_title(read_csv(login(team.lead).get("/incidents/export.csv")))
    assert lead_rows["Whistle-blown"]["reporter"] == ""
    assert team.responder.email in lead_rows["Open filing"]["reporter"]
    auth.logout()
    admin_rows = by_title(read_csv(login(team.admin).get("/incidents/export.csv")))
    assert team.responder.email in admin_rows["Whistle-blown"]["reporter"]


def test_reporter_exports_only_their_own(team, login, factory):
    team.file(as_="reporter", title="Mine", harmed_parties=["employees"], confidential=True)
    team.file(as_="lead", title="Someone else's")
    rows = read_csv(login(team.reporter).get("/incidents/export.csv"))
    assert [row["title"] for row in rows] == ["Mine"]
    # The reporter's view: no reporter column (it is them), no staff-only facts.
    assert rows[0]["reporter"] == "" and rows[0]["harmed_parties"] == "" and rows[0]["assignee"] == ""
    assert rows[0]["jurisdictions"] == "JP"


def test_filters_apply_on_web_and_api(team, login, factory, client):
    team.file(title="JP sev1", severity="sev1", jurisdictions=["JP"])
    team.file(title="EU sev1", severity="sev1", jurisdictions=["EU"], personal_data=False)
    team.file(title="JP sev3", severity="sev3", jurisdictions=["JP"])
    web = login(team.lead)
    assert {r["title"] for r in read_csv(web.get("/incidents/export.csv?severity=sev1"))} == {"JP sev1", "EU sev1"}
    assert {r["title"] for r in read_csv(web.get("/incidents/export.csv?jurisdiction=JP&severity=sev1"))} == {"JP sev1"}
    # The cursor of a list page is not a filter: an export has every matching incident.
    assert len(read_csv(web.get("/incidents/export.csv?jurisdiction=JP&cursor=aTI"))) == 2
    headers = {"Authorization": f"Bearer {factory.token(team.lead)}"}
    resp = client.get("/api/v1/exports/incidents.csv?jurisdiction=EU", headers=headers)
    assert [r["title"] for r in read_csv(resp)] == ["EU sev1"]
    bad = client.get("/api/v1/exports/incidents.csv?severity=sev9", headers=headers)
    assert bad.status_code == 422 and "severity" in bad.get_json()["error"]["fields"]
    assert client.get("/api/v1/exports/incidents.csv").status_code == 401


def test_list_page_offers_exports_with_its_filters(team, login):
    html = login(team.lead).get("/incidents?severity=sev1&jurisdiction=JP&cursor=x").get_data(as_text=True)
    for endpoint in ("/incidents/export.csv", "/incidents/export.json", "/incidents/export-aiid.json"):
        links = re.findall(rf'href="({re.escape(endpoint)}[^"]*)"', html)
        assert links, endpoint
        assert "severity=sev1" in links[0] and "jurisdiction=JP" in links[0] and "cursor" not in links[0]


def test_json_export_is_the_api_view(team, login, factory, client):
    team.file(title=JA_TITLE, description=JA_TEXT, confidential=True, as_="responder")
    team.file(title="Plain")
    headers = {"Authorization": f"Bearer {factory.token(team.lead)}"}
    listed = client.get("/api/v1/incidents", headers=headers).get_json()["items"]
    resp = client.get("/api/v1/exports/incidents.json", headers=headers)
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert re.search(r'filename="incidents-expo-\d{8}\.json"', resp.headers["Content-Disposition"])
    exported = json.loads(resp.get_data(as_text=True))
    assert exported == listed
    assert JA_TITLE in resp.get_data(as_text=True)  # not \u-escaped
    confidential = next(item for item in exported if item["title"] == JA_TITLE)
    assert confidential["reporter"] is None
    web = json.loads(login(team.lead).get("/incidents/export.json").get_data(as_text=True))
    assert web == listed
    # A reporter's export is the reporter view.
    reporter_headers = {"Authorization": f"Bearer {factory.token(team.reporter)}"}
    assert json.loads(client.get("/api/v1/exports/incidents.json", headers=reporter_headers).get_data()) == []


def test_empty_exports_are_still_valid(team, login):
    client = login(team.lead)
    assert read_csv(client.get("/incidents/export.csv")) == []
    assert json.loads(client.get("/incidents/export.json").get_data()) == []
    assert json.loads(client.get("/incidents/export-aiid.json").get_data()) == []


AIID_FIELDS = {
    "incident_id", "title", "description", "date", "date_aware", "date_reported", "incident_type", "deployer",
    "developer", "harmed_parties", "harmed_count", "deaths", "harm_types", "severity", "severity_label",
    "jurisdictions", "countries", "ai_system", "sector", "source", "submission_note",
}


def test_aiid_export_fields_and_confidential_excluded(team, login, factory, client, auth):
    team.file(title=JA_TITLE, description=JA_TEXT, ai_system_id=team.system_id, jurisdictions=["JP", "EU"],
              harm_types=["privacy"], harmed_parties=["consumers", "children"], sector="retail",
              occurred_at="2026-03-31T16:30:00+00:00", aware_at="2026-04-01T01:00:00+00:00")
    team.file(title="Confidential one", confidential=True)
    web = login(team.lead)
    resp = web.get("/incidents/export-aiid.json")
    assert resp.status_code == 200
    assert re.search(r'filename="incidents-aiid-expo-\d{8}\.json"', resp.headers["Content-Disposition"])
    items = json.loads(resp.get_data())
    assert [item["title"] for item in items] == [JA_TITLE]
    item = items[0]
    assert set(item) == AIID_FIELDS
    assert item["description"] == JA_TEXT
    assert item["date"] == "2026-04-01"  # 16:30 UTC is 01:30 on the 1st in Tokyo
    assert item["date_aware"] == "2026-04-01"
    assert item["deployer"] == "株式会社エクスポ"
    assert item["developer"] == "Example AI K.K."
    assert item["harmed_parties"] == ["Consumers or customers", "Children"]
    assert item["harm_types"] == ["Privacy or personal data"]
    assert item["countries"] == ["Japan", "European Union"] and item["jurisdictions"] == ["JP", "EU"]
    assert item["ai_system"] == {"name": "顧客対応チャットボット", "purpose": "Answers customer questions",
                                 "model": "chat-llm 2.1"}
    assert item["sector"] == "Retail and e-commerce"
    assert item["source"] == "internal incident report"
    assert "review" in item["submission_note"].lower()
    assert "reporter" not in json.dumps(items)
    # Only an admin may include confidential incidents, and only by asking.
    assert web.get("/incidents/export-aiid.json?include_confidential=1").status_code == 403
    auth.logout()
    admin = login(team.admin)
    assert len(json.loads(admin.get("/incidents/export-aiid.json").get_data())) == 1
    both = json.loads(admin.get("/incidents/export-aiid.json?include_confidential=1").get_data())
    assert {item["title"] for item in both} == {JA_TITLE, "Confidential one"}
    # The API: the same, and reporters may not make submissions.
    admin_headers = {"Authorization": f"Bearer {factory.token(team.admin)}"}
    api_items = json.loads(client.get("/api/v1/exports/aiid.json?include_confidential=true",
                                      headers=admin_headers).get_data())
    assert {item["title"] for item in api_items} == {JA_TITLE, "Confidential one"}
    lead_headers = {"Authorization": f"Bearer {factory.token(team.lead)}"}
    assert client.get("/api/v1/exports/aiid.json?include_confidential=true", headers=lead_headers).status_code == 403
    reporter_headers = {"Authorization": f"Bearer {factory.token(team.reporter)}"}
    forbidden = client.get("/api/v1/exports/aiid.json", headers=reporter_headers)
    assert forbidden.status_code == 403 and forbidden.get_json()["error"]["code"]


def test_deployer_and_developer_follow_the_actor_role(team, app):
    from app.orgs import service as orgs
    from app.systems import service as systems

    with app.app_context(), scoped(team.org.id):
        admin = orgs.get_user(team.admin.id)
        built = systems.create_system(actor=admin, data={"name": "In-house model", "actor_role": "developer"})
        used = systems.create_system(actor=admin, data={"name": "Vendor tool", "actor_role": "provider"})
        org = admin.organisation
        for system, expected in ((built, (None, "株式会社エクスポ")), (used, ("株式会社エクスポ", None))):
            incident = incidents.Incident(ai_system=system)
            assert exports.deployer_and_developer(incident, org) == expected
        assert exports.deployer_and_developer(incidents.Incident(), org) == (None, None)
        db.session.rollback()
        db.session.remove()


def test_csv_defuses_formulas(team, login):
    team.file(title="=HYPERLINK(\"http://evil.example\")", description="+1 then -2")
    row = read_csv(login(team.lead).get("/incidents/export.csv"))[0]
    assert row["title"].startswith("'=") and row["description"] == "'+1 then -2"


def test_large_export_streams_every_page_once(team, login, app):
    with app.app_context(), scoped(team.org.id):
        from app.orgs import service as orgs

        lead = orgs.get_user(team.lead.id)
        for n in range(250):
            incidents.file_incident(actor=lead, data={
                "title": f"件名 {n:03d}", "description": "説明", "severity": "sev4",
                "occurred_at": datetime.fromisoformat("2026-01-01T00:00:00+00:00"),
                "aware_at": datetime.fromisoformat("2026-01-01T00:00:00+00:00")})
        # Small pages: many chunks, each incident once.
        chunks = list(exports.csv_chunks(actor=lead, page_size=40))
        assert len(chunks) == 1 + 7  # header, then one chunk per page of 40
        db.session.remove()
    web = login(team.lead)
    resp = web.get("/incidents/export.csv")
    assert resp.is_streamed
    rows = read_csv(resp)
    assert len(rows) == 250
    assert sorted(row["title"] for row in rows) == [f"件名 {n:03d}" for n in range(250)]
    assert len({row["ref"] for row in rows}) == 250
    items = json.loads(web.get("/incidents/export.json").get_data())
    assert len(items) == 250 and len({item["id"] for item in items}) == 250
