"""The queue through the API (GET /api/v1/queue, assign, bulk assign) and the /queue page."""
import re

import pytest

from app.incidents.models import FAR_FUTURE
from tests.api.conftest import ApiClient
from tests.queues.conftest import hours


@pytest.fixture
def as_user(client, factory, team):
    """``as_user(role)`` -> an ApiClient for the team's user of that role."""
    return lambda role: ApiClient(client, factory.token(team.users[role]), team.users[role], team.org)


def test_api_queue_page_with_counts_and_cursor(team, as_user):
    made = [team.file(severity="sev2") for _ in range(3)]
    team.set(made[2], queue_due_at=hours(1))
    team.set(made[1], queue_due_at=hours(2))
    team.set(made[0], queue_due_at=FAR_FUTURE)
    lead = as_user("lead")
    resp = lead.get("/queue?limit=2")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert [i["id"] for i in body["items"]][0] == made[2]
    assert body["items"][0]["due_at"] and body["items"][0]["ref"].startswith("AI-")
    assert body["counts"]["open"] == 3 and body["counts"]["by_severity"]["sev2"] == 3
    rest = lead.get(f"/queue?limit=2&cursor={body['next_cursor']}").get_json()
    assert rest["next_cursor"] is None
    assert {i["id"] for i in body["items"] + rest["items"]} == set(made)
    assert rest["items"][-1]["id"] == made[0] and rest["items"][-1]["due_at"] is None
    assert lead.get("/queue?cursor=zzz").status_code == 422
    assert lead.get("/queue?assignee=bob").status_code == 422
    assert lead.get("/queue?severity=sev9").status_code == 422
    assert lead.get("/queue?overdue=true&jurisdiction=JP").status_code == 200


@pytest.mark.parametrize("role", ["reporter", "executive"])
def test_api_queue_is_403_for_reporters_and_executives(team, as_user, role):
    incident_id = team.file()
    user = as_user(role)
    assert user.get("/queue").status_code == 403
    assert user.post("/queue/bulk-assign", json={"incident_ids": [incident_id], "assignee_id": None}).status_code == 403
    if role == "executive":  # a reporter does not see the lead's filing at all: 404
        assert user.post(f"/incidents/{incident_id}/assign", json={"assignee_id": None}).status_code == 403


def test_api_assign_with_version_and_errors(team, as_user, factory):
    incident_id = team.file()
    lead = as_user("lead")
    version = lead.get(f"/incidents/{incident_id}").get_json()["version"]
    resp = lead.post(f"/incidents/{incident_id}/assign", json={"assignee_id": team.responder.id, "version": version})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["assignee"]["id"] == team.responder.id
    stale = lead.post(f"/incidents/{incident_id}/assign", json={"assignee_id": None, "version": version})
    assert stale.status_code == 409
    stranger = factory.user(factory.org("strangers"), "responder")
    assert lead.post(f"/incidents/{incident_id}/assign", json={"assignee_id": stranger.id}).status_code == 404
    assert lead.post(f"/incidents/{incident_id}/assign", json={}).status_code == 422
    assert lead.post(f"/incidents/{incident_id}/assign", json={"assignee_id": team.reporter.id}).status_code == 422
    responder2 = as_user("responder2")
    assert responder2.post(f"/incidents/{incident_id}/assign", json={"assignee_id": team.responder2.id}).status_code == 403
    timeline = lead.get(f"/incidents/{incident_id}/timeline").get_json()["items"]
    assert [e["action"] for e in timeline if e["action"] != "filed"][-1] == "assigned"


def test_api_bulk_assign(team, as_user):
    a, b = team.file(), team.file()
    lead = as_user("lead")
    bad = lead.post("/queue/bulk-assign", json={"incident_ids": [a, 424242], "assignee_id": team.lead.id})
    assert bad.status_code == 422
    assert "424242" in bad.get_json()["error"]["fields"]["incident_ids"][0]
    ok = lead.post("/queue/bulk-assign", json={"incident_ids": [a, b], "assignee_id": team.lead.id})
    assert ok.status_code == 200 and ok.get_json() == {"assigned": [a, b], "assignee_id": team.lead.id}
    assert lead.get("/queue?assignee=me").get_json()["counts"]["mine"] == 2


def _csrf(html):
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def test_queue_page_tabs_rows_claim_and_bulk(client, auth, team):
    a, b = team.file(severity="sev1"), team.file(severity="sev3")
    team.set(a, queue_due_at=hours(-3))
    team.set(b, queue_due_at=hours(5))
    auth.login(team.lead.email)
    html = client.get("/queue").get_data(as_text=True)
    assert "AI-0001" in html and "AI-0002" in html
    assert 'class="countdown overdue"' in html and 'class="countdown"' in html
    assert html.index("AI-0001") < html.index("AI-0002")
    assert 'data-tab="overdue"' in html and 'name="incident_ids"' in html
    assert all(" src=" in tag for tag in re.findall(r"<script[^>]*>", html)), "no inline script (CSP)"
    assert 'data-due="' in html and "static/countdown.js" in html
    token = _csrf(html)
    resp = client.post(f"/incidents/{a}/assign", data={"csrf_token": token, "assignee_id": "me", "next": "/queue"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/queue")
    mine = client.get("/queue?assignee=me").get_data(as_text=True)
    assert "AI-0001" in mine and "AI-0002" not in mine
    resp = client.post("/queue/bulk-assign", data={"csrf_token": token, "incident_ids": [str(a), str(b)],
                                                    "assignee_id": str(team.responder.id)})
    assert resp.status_code == 302
    page = client.get("/queue?assignee=" + str(team.responder.id)).get_data(as_text=True)
    assert "AI-0001" in page and "AI-0002" in page
    # Pages: a next link with ?cursor=
    for _ in range(60):
        team.file(severity="sev4")
    page = client.get("/queue?assignee=any").get_data(as_text=True)
    link = re.search(r'href="([^"]*cursor=[^"]+)" rel="next"', page)
    assert link
    assert client.get(link.group(1).replace("&amp;", "&")).status_code == 200


def test_queue_page_roles(client, auth, team):
    for role, status in (("reporter", 403), ("executive", 403), ("responder", 200), ("admin", 200)):
        auth.login(team.users[role].email)
        assert client.get("/queue").status_code == status, role
        auth.logout()


def test_responder_sees_their_own_queue_by_default_and_claims(client, auth, team):
    a = team.file()
    auth.login(team.responder.email)
    html = client.get("/queue").get_data(as_text=True)
    assert "AI-0001" not in html  # my queue is empty
    html = client.get("/queue?assignee=any").get_data(as_text=True)
    assert "AI-0001" in html and 'name="incident_ids"' not in html  # no bulk assign for responders
    token = _csrf(html)
    client.post(f"/incidents/{a}/assign", data={"csrf_token": token, "assignee_id": "me"})
    assert "AI-0001" in client.get("/queue").get_data(as_text=True)
    detail = client.get(f"/incidents/{a}").get_data(as_text=True)
    assert "Unassign me" in detail or "割り当て" in detail
    assert client.post("/queue/bulk-assign", data={"csrf_token": token, "incident_ids": [str(a)],
                                                    "assignee_id": ""}).status_code == 403
