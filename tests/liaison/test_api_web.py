"""Ministry requests through the API and the pages."""
import re
from datetime import timedelta

import pytest

from app.db import utcnow
from tests.api.conftest import ApiClient


@pytest.fixture
def as_user(client, factory, team):
    return lambda role: ApiClient(client, factory.token(team.users[role]), team.users[role], team.org)


def _body(**kw):
    body = {"ministry": "ppc", "kind": "report_collection", "reference": "個情第123号",
            "received_at": (utcnow() - timedelta(hours=3)).isoformat(),
            "due_at": (utcnow() + timedelta(days=2)).isoformat(), "requested_actions": "Submit a report."}
    body.update(kw)
    return body


def test_api_create_list_read_link_edit(team, as_user):
    incident_id = team.file(jurisdictions=["JP"])
    lead = as_user("lead")
    resp = lead.post("/ministry-requests", json=_body())
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert resp.headers["Location"].endswith(f"/ministry-requests/{created['id']}")
    assert created["ministry_name"] == {"ja": "個人情報保護委員会", "en": "PPC (Personal Information Protection Commission)"}
    assert lead.post("/ministry-requests", json=_body(received_at="2026-01-01T00:00:00")).status_code == 422
    assert lead.post("/ministry-requests", json={"ministry": "meti"}).status_code == 422
    listing = as_user("executive").get("/ministry-requests").get_json()
    assert [i["id"] for i in listing["items"]] == [created["id"]] and listing["next_cursor"] is None
    linked = lead.post(f"/ministry-requests/{created['id']}/links", json={"incident_id": incident_id})
    assert linked.status_code == 200, linked.get_json()
    assert [i["id"] for i in linked.get_json()["incidents"]] == [incident_id]
    rules = {d["rule"] for d in lead.get(f"/incidents/{incident_id}").get_json()["deadlines"]}
    assert "jp-ai-promotion" in rules
    assert lead.post(f"/ministry-requests/{created['id']}/links", json={"incident_id": 55555}).status_code == 422
    edited = lead.patch(f"/ministry-requests/{created['id']}", json={"status": "answered"})
    assert edited.status_code == 200 and edited.get_json()["status"] == "answered"
    detail = as_user("executive").get(f"/ministry-requests/{created['id']}").get_json()
    assert detail["status"] == "answered" and detail["incidents"][0]["id"] == incident_id
    unlinked = lead.request("DELETE", f"/ministry-requests/{created['id']}/links/{incident_id}")
    assert unlinked.status_code == 200 and unlinked.get_json()["incidents"] == []


def test_api_roles(team, as_user):
    lead = as_user("lead")
    request_id = lead.post("/ministry-requests", json=_body()).get_json()["id"]
    assert as_user("executive").post("/ministry-requests", json=_body()).status_code == 403
    assert as_user("responder").get("/ministry-requests").status_code == 403
    assert as_user("reporter").get(f"/ministry-requests/{request_id}").status_code == 403
    assert as_user("executive").patch(f"/ministry-requests/{request_id}", json={"status": "closed"}).status_code == 403
    assert lead.get(f"/ministry-requests/{request_id + 1000}").status_code == 404


def _csrf(html):
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def test_pages_record_link_and_status(client, auth, team):
    incident_id = team.file(jurisdictions=["JP"])
    auth.login(team.lead.email)
    form = client.get("/ministry-requests/new").get_data(as_text=True)
    assert "内閣府 AI戦略本部" in form or "Cabinet Office AI Strategic Headquarters" in form
    token = _csrf(form)
    bad = client.post("/ministry-requests/new", data={"csrf_token": token, "ministry": "", "received_at": ""})
    assert bad.status_code == 422
    resp = client.post("/ministry-requests/new", data={
        "csrf_token": token, "ministry": "cao-ai", "kind": "request", "reference": "AI本部-7",
        "received_at": "2026-01-05T10:00", "requested_actions": "Explain the incident.",
        "due_at": "2099-01-10T17:00", "status": "open"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    detail_url = resp.headers["Location"]
    request_id = int(detail_url.rstrip("/").rsplit("/", 1)[-1])
    page = client.get(detail_url).get_data(as_text=True)
    assert 'class="countdown' in page and "AI本部-7" in page
    resp = client.post(f"/ministry-requests/{request_id}/links", data={"csrf_token": token, "incident": "AI-0001"})
    assert resp.status_code == 302
    assert client.post(f"/ministry-requests/{request_id}/links",
                       data={"csrf_token": token, "incident": "AI-9999"}).status_code == 422
    page = client.get(detail_url).get_data(as_text=True)
    assert f"/incidents/{incident_id}" in page
    incident_page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert f"/ministry-requests/{request_id}" in incident_page
    assert client.post(f"/ministry-requests/{request_id}", data={"csrf_token": token, "status": "closed"}).status_code == 302
    listing = client.get("/ministry-requests?status=closed").get_data(as_text=True)
    assert "AI本部-7" not in listing or f"/ministry-requests/{request_id}" in listing
    assert client.post(f"/ministry-requests/{request_id}/unlink",
                       data={"csrf_token": token, "incident_id": str(incident_id)}).status_code == 302


def test_page_roles(client, auth, team):
    for role, status in (("executive", 200), ("responder", 403), ("reporter", 403), ("admin", 200)):
        auth.login(team.users[role].email)
        assert client.get("/ministry-requests").status_code == status, role
        auth.logout()
    auth.login(team.executive.email)
    assert client.get("/ministry-requests/new").status_code == 403
