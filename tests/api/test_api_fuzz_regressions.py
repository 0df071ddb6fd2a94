"""Regressions found by fuzzing the API from its OpenAPI document (tests/fuzz/test_schemathesis.py).

Each was a 500 or an answer the document did not describe; each now answers the contract's
error shape (404/422) or is documented as it is.
"""
from tests.conftest import incident_payload

HUGE = 2**80  # beyond any database integer (SQLite: OverflowError; PostgreSQL: out of range)


def _error(resp, status):
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body["error"]) >= {"code", "message", "fields"}
    return body["error"]


def test_huge_ids_in_paths_are_404(api):
    admin = api("admin")
    for path in (f"/incidents/{HUGE}", f"/ministry-requests/{HUGE}", f"/ai-systems/{2**31}",
                 f"/escalations/{HUGE}/acknowledge"):
        method = "POST" if path.endswith("acknowledge") else "GET"
        _error(admin.request(method, path), 404)
    _error(admin.patch(f"/ministry-requests/{HUGE}", json={"reference": "x"}), 404)


def test_huge_integers_in_queries_and_bodies_are_422(api):
    admin = api("admin")
    error = _error(admin.get(f"/ledger/entries?after_seq={HUGE}"), 422)
    assert "after_seq" in error["fields"]
    _error(admin.get(f"/ledger/entries?subject_id={HUGE}"), 422)
    error = _error(admin.post("/queue/bulk-assign", json={"incident_ids": [1, HUGE], "assignee_id": None}), 422)
    assert "incident_ids" in error["fields"]
    _error(admin.get(f"/queue?ai_system_id={HUGE}"), 422)
    _error(admin.get(f"/incidents?ai_system_id={HUGE}"), 422)
    _error(admin.get(f"/exports/incidents.csv?ai_system_id={HUGE}"), 422)
    error = _error(admin.post("/incidents", json=incident_payload(ai_system_id=HUGE)), 422)
    assert "ai_system_id" in error["fields"]


def test_queue_assignee_filter_takes_ascii_digits_only(api):
    lead = api("lead")
    error = _error(lead.get("/queue?assignee=%C2%B2"), 422)  # "²" is a digit to str.isdigit()
    assert "assignee" in error["fields"]
    _error(lead.get(f"/queue?assignee={HUGE}"), 422)
    assert lead.get("/queue?assignee=me").status_code == 200


def test_nul_characters_are_422_not_500(api):
    admin = api("admin")
    error = _error(admin.post("/incidents", json=incident_payload(title="bad\x00title")), 422)
    assert list(error["fields"]) == ["title"]
    _error(admin.get("/incidents?q=abc%00def"), 422)
    _error(admin.get("/exports/incidents.csv?q=%F3%BF%AD%89%00%2C%00"), 422)
    assert admin.get("/incidents?q=abcdef").status_code == 200


def test_document_describes_non_json_and_array_answers(client):
    document = client.get("/api/v1/openapi.json").get_json()
    paths = document["paths"]
    csv = paths["/api/v1/exports/incidents.csv"]["get"]["responses"]["200"]["content"]
    assert list(csv) == ["text/csv"]
    json_export = paths["/api/v1/exports/incidents.json"]["get"]["responses"]["200"]["content"]
    assert json_export["application/json"]["schema"]["type"] == "array"
    assert "$ref" in json_export["application/json"]["schema"]["items"]["anyOf"][0]
    pack = paths["/api/v1/incidents/{incident_id}/report-pack"]["get"]["responses"]["200"]["content"]
    assert set(pack) == {"application/json", "text/csv"}
    download = paths["/api/v1/report-jobs/{job_id}/download"]["get"]["responses"]["200"]["content"]
    assert set(download) == {"application/json", "text/csv", "text/html"}  # a job may build the HTML page
    param = paths["/api/v1/incidents/{incident_id}"]["get"]["parameters"][0]
    assert param["schema"]["maximum"] == 2**31 - 1


def test_exports_and_report_pack_answer_what_the_document_says(api):
    admin = api("admin")
    created = admin.post("/incidents", json=incident_payload())
    assert created.status_code == 201
    assert admin.get("/exports/incidents.csv").mimetype == "text/csv"
    assert isinstance(admin.get("/exports/incidents.json").get_json(), list)
    assert isinstance(admin.get("/exports/aiid.json").get_json(), list)
    assert admin.get(f"/incidents/{created.get_json()['id']}/report-pack?format=csv").mimetype == "text/csv"


def test_metrics_dates_outside_the_calendar_python_can_place_are_422(client, factory):
    """Found by schemathesis: since=0001-01-01 in Asia/Tokyo is before the first UTC instant."""
    org = factory.org()
    token = factory.token(factory.user(org, "executive"))
    res = client.get("/api/v1/metrics?since=0001-01-01&until=0001-01-01",
                     headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 422
    assert set(res.get_json()["error"]["fields"]) & {"since", "until"}
