"""The transitions API of the contract: the list on offer, 200, 403, 404, 409 and 422."""
import pytest

from app.extensions import db
from app.incidents.models import Incident
from app.tenancy import scoped
from app.workflow import engine
from tests.conftest import incident_payload
from tests.workflow.test_engine_defs import DEFINITION

CONTAIN = {"summary": "Rolled back the model", "contained_at": "2026-01-05T10:00:00+09:00"}


@pytest.fixture(autouse=True)
def flow(monkeypatch):
    """Every incident runs the hand-built test definition."""
    monkeypatch.setattr(engine, "definition_for", lambda incident: DEFINITION)


@pytest.fixture
def filed(api, app):
    """A lead and an incident of theirs in state ``reported``: (lead, incident body)."""
    lead = api("lead")
    body = lead.post("/incidents", json=incident_payload(personal_data=False)).get_json()
    if body["state"] != "reported":
        with app.app_context(), scoped(lead.org.id):
            db.session.get(Incident, body["id"]).state = "reported"
            db.session.commit()
        body = lead.get(f"/incidents/{body['id']}").get_json()
    return lead, body


def _error(resp, status, code):
    assert resp.status_code == status, resp.get_data(as_text=True)
    error = resp.get_json()["error"]
    assert error["code"] == code
    return error


def test_list_of_transitions_on_offer(filed, api):
    lead, incident = filed
    path = f"/incidents/{incident['id']}/transitions"
    resp = lead.get(path, headers={"Accept-Language": "en"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert [i["name"] for i in body["items"]] == ["start_triage"]
    item = body["items"][0]
    assert item["label"] == "Start triage" and item["to"] == "triage" and item["required_fields"] == []
    assert item["labels"] == {"en": "Start triage", "ja": "トリアージ開始"}
    assert body["version"] == incident["version"] and body["state"] == "reported"
    # A reporter (of their own filing) may take none.
    reporter = api("reporter", org=lead.org)
    own = reporter.post("/incidents", json=incident_payload(personal_data=False)).get_json()
    assert reporter.get(f"/incidents/{own['id']}/transitions").get_json()["items"] == []


def test_required_fields_are_listed_in_the_callers_language(filed):
    lead, incident = filed
    path = f"/incidents/{incident['id']}/transitions"
    assert lead.post(path, json={"transition": "start_triage", "version": incident["version"]}).status_code == 200
    items = lead.get(path, headers={"Accept-Language": "ja"}).get_json()["items"]
    contain = next(i for i in items if i["name"] == "contain")
    assert contain["label"] == "封じ込め" and contain["to"] == "active"
    assert [(f["name"], f["type"], f["label"]) for f in contain["required_fields"]] == [
        ("summary", "text", "概要"), ("contained_at", "datetime", "封じ込め日時")]
    scope = next(f for f in contain["fields"] if f["name"] == "scope")
    assert scope["options"] == ["internal", "external"] and scope["required"] is False


def test_take_a_transition(filed):
    lead, incident = filed
    path = f"/incidents/{incident['id']}/transitions"
    resp = lead.post(path, json={"transition": "start_triage", "version": incident["version"], "comment": "On it"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["state"] == "triage" and body["version"] == incident["version"] + 1
    assert "acknowledged_at" in body and "reporter" in body  # the staff view
    # Fields at the top level, or under "fields".
    resp = lead.post(path, json={"transition": "contain", "version": body["version"], "summary": "Rolled back",
                                 "fields": {"contained_at": CONTAIN["contained_at"], "users": 4}})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["state"] == "active"
    events = lead.get(f"/incidents/{incident['id']}/timeline").get_json()["items"]
    moves = [e for e in events if e["action"] == "transition"]
    assert [(e["from_state"], e["to_state"]) for e in moves] == [("reported", "triage"), ("triage", "active")]
    assert moves[0]["comment"] == "On it" and moves[0]["actor"]["id"] == lead.user.id
    assert moves[1]["data"]["fields"] == {"summary": "Rolled back", "contained_at": "2026-01-05T01:00:00+00:00",
                                          "users": 4}
    assert moves[1]["data"]["transition"] == "contain"
    assert moves[1]["data"]["label"] == {"en": "Contain", "ja": "封じ込め"}


def test_stale_version_is_409(filed):
    lead, incident = filed
    path = f"/incidents/{incident['id']}/transitions"
    assert lead.post(path, json={"transition": "start_triage", "version": incident["version"]}).status_code == 200
    resp = lead.post(path, json={"transition": "contain", "version": incident["version"], **CONTAIN})
    _error(resp, 409, "conflict")
    assert lead.get(f"/incidents/{incident['id']}").get_json()["state"] == "triage"


def test_guard_or_source_state_is_409(filed):
    lead, incident = filed
    resp = lead.post(f"/incidents/{incident['id']}/transitions", json={"transition": "close", "version": incident["version"]})
    assert "not possible" in _error(resp, 409, "conflict")["message"]


def test_role_may_not_is_403(filed, api):
    lead, incident = filed
    path = f"/incidents/{incident['id']}/transitions"
    assert lead.post(path, json={"transition": "start_triage", "version": incident["version"]}).status_code == 200
    responder = api("responder", org=lead.org)
    resp = responder.post(path, json={"transition": "contain", "version": incident["version"] + 1, **CONTAIN})
    _error(resp, 403, "forbidden")
    executive = api("executive", org=lead.org)
    _error(executive.post(path, json={"transition": "contain", "version": incident["version"] + 1, **CONTAIN}),
           403, "forbidden")


def test_missing_or_bad_fields_are_422(filed):
    lead, incident = filed
    path = f"/incidents/{incident['id']}/transitions"
    version = lead.post(path, json={"transition": "start_triage", "version": incident["version"]}).get_json()["version"]
    error = _error(lead.post(path, json={"transition": "contain", "version": version}), 422, "validation_failed")
    assert set(error["fields"]) == {"summary", "contained_at"}
    error = _error(lead.post(path, json={"transition": "contain", "version": version, "summary": "x",
                                         "contained_at": "2026-01-05T10:00", "users": "many", "scope": "moon"}),
                   422, "validation_failed")
    assert set(error["fields"]) == {"contained_at", "users", "scope"}
    error = _error(lead.post(path, json={"transition": "contain", **CONTAIN}), 422, "validation_failed")
    assert set(error["fields"]) == {"version"}
    error = _error(lead.post(path, json={"transition": "contain", "version": str(version), **CONTAIN}),
                   422, "validation_failed")
    assert set(error["fields"]) == {"version"}
    error = _error(lead.post(path, json={"transition": "fly", "version": version}), 422, "validation_failed")
    assert set(error["fields"]) == {"transition"}
    error = _error(lead.post(path, json={"version": version}), 422, "validation_failed")
    assert set(error["fields"]) == {"transition"}
    assert lead.get(f"/incidents/{incident['id']}").get_json()["version"] == version


def test_another_organisations_incident_is_404(filed, api):
    lead, incident = filed
    stranger = api("lead")
    path = f"/incidents/{incident['id']}/transitions"
    _error(stranger.get(path), 404, "not_found")
    _error(stranger.post(path, json={"transition": "start_triage", "version": incident["version"]}), 404, "not_found")
    # Another reporter of the same organisation does not see it either.
    reporter = api("reporter", org=lead.org)
    _error(reporter.post(path, json={"transition": "start_triage", "version": incident["version"]}), 404, "not_found")


def test_openapi_documents_the_transitions(client):
    document = client.get("/api/v1/openapi.json").get_json()
    ops = document["paths"]["/api/v1/incidents/{incident_id}/transitions"]
    assert {"200", "401", "404"} <= set(ops["get"]["responses"])
    assert {"200", "403", "404", "409", "422"} <= set(ops["post"]["responses"])
    schema = document["components"]["schemas"]["TransitionRequest"]
    assert set(schema["required"]) == {"transition", "version"}
