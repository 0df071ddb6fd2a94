"""The AI system inventory through the API."""
import pytest


SYSTEM = {
    "name": "顧客対応チャットボット",
    "purpose": "Answers customer questions on orders and returns.",
    "actor_role": "provider",
    "training_sources": "FAQ corpus 2024; anonymised support transcripts",
    "deployment_context": "Public website, Japanese and English",
}


@pytest.mark.parametrize("role", ["lead", "admin"])
def test_editors_create_and_everyone_reads(api, role):
    editor = api(role)
    resp = editor.post("/ai-systems", json=SYSTEM)
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert resp.headers["Location"].endswith(f"/api/v1/ai-systems/{created['id']}")
    for key, value in SYSTEM.items():
        assert created[key] == value
    assert created["status"] == "in_use" and created["risk_level"] == "limited"
    assert created["created_at"].endswith("+00:00")
    for reader_role in ("reporter", "responder", "executive"):
        reader = api(reader_role, org=editor.org)
        assert reader.get(f"/ai-systems/{created['id']}").get_json() == created
        assert [s["id"] for s in reader.get("/ai-systems").get_json()["items"]] == [created["id"]]


@pytest.mark.parametrize("role", ["reporter", "responder", "executive"])
def test_others_may_not_create_or_edit(api, role):
    lead = api("lead")
    system_id = lead.post("/ai-systems", json=SYSTEM).get_json()["id"]
    caller = api(role, org=lead.org)
    resp = caller.post("/ai-systems", json=SYSTEM)
    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "forbidden"
    assert caller.patch(f"/ai-systems/{system_id}", json={"name": "x"}).status_code == 403
    assert len(lead.get("/ai-systems").get_json()["items"]) == 1
    assert lead.get(f"/ai-systems/{system_id}").get_json()["name"] == SYSTEM["name"]


def test_edit(api):
    lead = api("lead")
    system_id = lead.post("/ai-systems", json=SYSTEM).get_json()["id"]
    resp = lead.patch(f"/ai-systems/{system_id}", json={"risk_level": "high", "eu_high_risk": True, "owner_id": lead.user.id})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["risk_level"] == "high" and body["eu_high_risk"] is True
    assert body["owner"] == {"id": lead.user.id, "name": lead.user.name}
    assert body["name"] == SYSTEM["name"]


def test_invalid_system_is_422_with_fields(api):
    lead = api("lead")
    resp = lead.post("/ai-systems", json={"actor_role": "vendor", "eu_high_risk": "yes", "colour": "red"})
    assert resp.status_code == 422
    fields = resp.get_json()["error"]["fields"]
    assert set(fields) == {"name", "actor_role", "eu_high_risk", "colour"}
    assert all(isinstance(m, list) and m for m in fields.values())


def test_owner_of_another_org_is_not_found(api):
    lead, other = api("lead"), api("lead")
    resp = lead.post("/ai-systems", json={"name": "x", "owner_id": other.user.id})
    assert resp.status_code == 422
    assert "owner_id" in resp.get_json()["error"]["fields"]


def test_other_orgs_systems_are_invisible(api):
    mine, theirs = api("lead"), api("lead")
    their_id = theirs.post("/ai-systems", json={"name": "Their system"}).get_json()["id"]
    assert mine.get("/ai-systems").get_json()["items"] == []
    assert mine.get(f"/ai-systems/{their_id}").status_code == 404
    resp = mine.patch(f"/ai-systems/{their_id}", json={"name": "pwned"})
    assert resp.status_code == 404
    assert theirs.get(f"/ai-systems/{their_id}").get_json()["name"] == "Their system"


def test_list_filters(api):
    lead = api("lead")
    lead.post("/ai-systems", json={"name": "B", "status": "retired"})
    lead.post("/ai-systems", json={"name": "A"})
    assert [s["name"] for s in lead.get("/ai-systems").get_json()["items"]] == ["A", "B"]
    assert [s["name"] for s in lead.get("/ai-systems?status=retired").get_json()["items"]] == ["B"]
    resp = lead.get("/ai-systems?status=lost")
    assert resp.status_code == 422 and "status" in resp.get_json()["error"]["fields"]
