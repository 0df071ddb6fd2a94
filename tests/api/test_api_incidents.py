"""Incident intake, list, detail, edit and timeline through the API."""
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import incident_payload

REPORTER_VIEW = {
    "id", "ref", "title", "description", "kind", "severity", "occurred_at", "aware_at", "ai_system",
    "jurisdictions", "harm_types", "state", "workflow", "version", "deadlines", "created_at",
}


def _fields(resp):
    assert resp.status_code == 422, resp.get_data(as_text=True)
    error = resp.get_json()["error"]
    assert error["code"] == "validation_failed"
    return error["fields"]


# ---------------------------------------------------------------- filing and reading


def test_file_and_read(api):
    lead = api("lead")
    system = lead.post("/ai-systems", json={"name": "Support bot"}).get_json()
    payload = incident_payload(ai_system_id=system["id"], principles=["privacy", "security"], deaths=0)
    resp = lead.post("/incidents", json=payload)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert resp.headers["Location"].endswith(f"/api/v1/incidents/{body['id']}")
    assert body["ref"] == "AI-0001"
    assert body["workflow"] and body["state"] == "reported" and body["version"] == 1
    assert isinstance(body["deadlines"], list)
    for deadline in body["deadlines"]:
        assert set(deadline) >= {"rule", "due_at", "source", "met_at"}
    # JP + personal data: the APPI reports are due (the deadline engine's own tests check the dates).
    rules = {d["rule"] for d in body["deadlines"]}
    assert {"appi-preliminary", "appi-final"} <= rules
    assert all(d["met_at"] is None for d in body["deadlines"])
    assert body["title"] == payload["title"] and body["severity"] == "sev2" and body["kind"] == "incident"
    assert body["jurisdictions"] == ["JP"] and body["harm_types"] == ["privacy"]
    assert body["principles"] == ["privacy", "security"] and body["personal_data"] is True
    assert body["ai_system"] == {"id": system["id"], "name": "Support bot"}
    assert body["reporter"] == {"id": lead.user.id, "name": lead.user.name, "email": lead.user.email}
    assert body["assignee"] is None
    for key in ("occurred_at", "aware_at", "created_at", "updated_at"):
        assert body[key].endswith("+00:00"), key
    occurred = datetime.fromisoformat(payload["occurred_at"])
    assert datetime.fromisoformat(body["occurred_at"]) == occurred

    fetched = lead.get(f"/incidents/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.get_json() == body
    assert [i["id"] for i in lead.get("/incidents").get_json()["items"]] == [body["id"]]


def test_offsets_are_converted_to_utc(api):
    lead = api("lead")
    jst = timezone(timedelta(hours=9))
    occurred = datetime.now(jst).replace(microsecond=0) - timedelta(days=1)
    body = lead.post("/incidents", json=incident_payload(
        occurred_at=occurred.isoformat(), aware_at=(occurred + timedelta(hours=1)).isoformat())).get_json()
    assert body["occurred_at"] == occurred.astimezone(timezone.utc).isoformat()


def test_japanese_text_round_trips_exactly(api):
    lead = api("lead")
    title = "生成AIチャットボットが他の顧客の注文履歴を表示 🤖⚠️"
    description = (
        "カスタマーサポートのチャットボット（ＲＡＧ構成）が、別の顧客の氏名・住所・注文履歴を回答した。\n"
        "半角ｶﾅ、全角英数ＡＢＣ１２３、絵文字👨‍👩‍👧、旧字体「髙」「﨑」も含む。\t末尾の空白は除く"
    )
    created = lead.post("/incidents", json=incident_payload(title=title, description=description))
    assert created.status_code == 201
    assert created.get_json()["title"] == title
    fetched = lead.get(f"/incidents/{created.get_json()['id']}").get_json()
    assert fetched["title"] == title and fetched["description"] == description
    raw = lead.get(f"/incidents/{created.get_json()['id']}").get_data()
    assert "生成AI".encode("utf-8") in raw or b"\\u751f" in raw  # UTF-8 or escaped, both exact JSON


def test_cross_org_ai_system_is_rejected_like_a_missing_one(api):
    mine, theirs = api("lead"), api("lead")
    their_system = theirs.post("/ai-systems", json={"name": "Their system"}).get_json()["id"]
    foreign = _fields(mine.post("/incidents", json=incident_payload(ai_system_id=their_system)))
    missing = _fields(mine.post("/incidents", json=incident_payload(ai_system_id=their_system + 1000)))
    assert set(foreign) == {"ai_system_id"}
    assert foreign == missing
    assert "not found" in foreign["ai_system_id"][0].lower()
    assert mine.get("/incidents").get_json()["items"] == []


# ---------------------------------------------------------------- input errors


@pytest.mark.parametrize("changes, field", [
    ({"title": None}, "title"),
    ({"severity": "sev0"}, "severity"),
    ({"kind": "accident"}, "kind"),
    ({"occurred_at": "2026-01-01T09:00:00"}, "occurred_at"),
    ({"aware_at": "yesterday"}, "aware_at"),
    ({"jurisdictions": ["JP", "XX"]}, "jurisdictions"),
    ({"jurisdictions": "JP"}, "jurisdictions"),
    ({"harm_types": ["privacy", 7]}, "harm_types"),
    ({"deaths": -1}, "deaths"),
    ({"deaths": "2"}, "deaths"),
    ({"personal_data": "yes"}, "personal_data"),
    ({"personal_data": 1}, "personal_data"),
    ({"title": "x" * 201}, "title"),
    ({"ai_system_id": "1"}, "ai_system_id"),
    ({"state": "closed"}, "state"),
])
def test_bad_field_is_422_naming_it(api, changes, field):
    payload = incident_payload(**changes)
    if changes.get("title", "") is None:
        del payload["title"]
    assert set(_fields(api("responder").post("/incidents", json=payload))) == {field}


def test_missing_required_fields_are_each_named(api):
    fields = _fields(api("reporter").post("/incidents", json={}))
    assert set(fields) == {"title", "description", "severity", "occurred_at", "aware_at"}
    assert all(messages for messages in fields.values())


def test_naive_datetime_is_refused_with_a_clear_message(api):
    fields = _fields(api().post("/incidents", json=incident_payload(aware_at="2026-01-01T09:00:00")))
    assert "offset" in fields["aware_at"][0]


def test_aware_before_occurred_is_422(api):
    now = datetime.now(timezone.utc)
    fields = _fields(api().post("/incidents", json=incident_payload(
        occurred_at=(now - timedelta(hours=1)).isoformat(), aware_at=(now - timedelta(hours=2)).isoformat())))
    assert set(fields) == {"aware_at"}


def test_aware_in_the_future_is_422(api):
    future = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    assert "aware_at" in _fields(api().post("/incidents", json=incident_payload(aware_at=future)))


def test_list_item_errors_name_the_item(api):
    fields = _fields(api().post("/incidents", json=incident_payload(jurisdictions=["JP", "XX"])))
    assert len(fields["jurisdictions"]) == 1 and fields["jurisdictions"][0].startswith("[1]")


def test_malformed_json_is_400(api):
    caller = api()
    resp = caller.post("/incidents", data='{"title": "unterminated', headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize("raw", ['["a list"]', '"a string"', "42", "null"])
def test_non_object_body_is_400(api, raw):
    resp = api().post("/incidents", data=raw, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "bad_request"


def test_wrong_content_type_is_415(api):
    resp = api().post("/incidents", data="title=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 415
    assert "application/json" in resp.get_json()["error"]["message"]


@pytest.mark.parametrize("qs, field", [
    ("limit=500", "limit"), ("limit=0", "limit"), ("limit=many", "limit"),
    ("cursor=%%%", "cursor"), ("cursor=bm9wZQ", "cursor"), ("severity=sev9", "severity"),
    ("jurisdiction=XX", "jurisdiction"), ("colour=red", "colour"),
])
def test_bad_list_query_is_422(api, qs, field):
    assert field in _fields(api().get(f"/incidents?{qs}"))


# ---------------------------------------------------------------- audiences


def test_confidential_reporter_hidden_from_lead_shown_to_admin(api):
    reporter = api("reporter")
    lead, admin = api("lead", org=reporter.org), api("admin", org=reporter.org)
    incident_id = reporter.post("/incidents", json=incident_payload(confidential=True)).get_json()["id"]
    seen_by_lead = lead.get(f"/incidents/{incident_id}").get_json()
    assert seen_by_lead["reporter"] is None and seen_by_lead["confidential"] is True
    assert lead.get("/incidents").get_json()["items"][0]["reporter"] is None
    seen_by_admin = admin.get(f"/incidents/{incident_id}").get_json()
    assert seen_by_admin["reporter"]["id"] == reporter.user.id
    # The timeline does not give the reporter away either.
    filed_for_lead = lead.get(f"/incidents/{incident_id}/timeline").get_json()["items"][0]
    assert filed_for_lead["action"] == "filed" and filed_for_lead["actor"] is None
    filed_for_admin = admin.get(f"/incidents/{incident_id}/timeline").get_json()["items"][0]
    assert filed_for_admin["actor"] == {"id": reporter.user.id, "name": reporter.user.name}
    assert str(reporter.user.email) not in lead.get(f"/incidents/{incident_id}/timeline").get_data(as_text=True)


def test_open_filing_shows_the_reporter_to_staff(api):
    reporter = api("reporter")
    lead = api("lead", org=reporter.org)
    incident_id = reporter.post("/incidents", json=incident_payload()).get_json()["id"]
    assert lead.get(f"/incidents/{incident_id}").get_json()["reporter"]["id"] == reporter.user.id
    assert lead.get(f"/incidents/{incident_id}/timeline").get_json()["items"][0]["actor"]["id"] == reporter.user.id


def test_reporter_sees_own_incidents_in_the_smaller_view(api):
    alice = api("reporter")
    bob = api("reporter", org=alice.org)
    lead = api("lead", org=alice.org)
    own = alice.post("/incidents", json=incident_payload(title="Alice's"))
    assert own.status_code == 201
    assert set(own.get_json()) == REPORTER_VIEW
    bobs = bob.post("/incidents", json=incident_payload(title="Bob's")).get_json()["id"]
    leads = lead.post("/incidents", json=incident_payload(title="Lead's")).get_json()["id"]
    items = alice.get("/incidents").get_json()["items"]
    assert [i["title"] for i in items] == ["Alice's"]
    assert set(items[0]) == REPORTER_VIEW
    assert set(alice.get(f"/incidents/{own.get_json()['id']}").get_json()) == REPORTER_VIEW
    for other in (bobs, leads):
        assert alice.get(f"/incidents/{other}").status_code == 404
        assert alice.get(f"/incidents/{other}/timeline").status_code == 404
        assert alice.patch(f"/incidents/{other}", json={"version": 1, "title": "x"}).status_code == 404
    assert len(lead.get("/incidents").get_json()["items"]) == 3


def test_other_orgs_incidents_are_404(api):
    mine, theirs = api("admin"), api("lead")
    their_id = theirs.post("/incidents", json=incident_payload()).get_json()["id"]
    for resp in (
        mine.get(f"/incidents/{their_id}"),
        mine.get(f"/incidents/{their_id}/timeline"),
        mine.patch(f"/incidents/{their_id}", json={"version": 1, "title": "pwned"}),
        mine.patch(f"/incidents/{their_id}", json={"version": 1, "bogus": True}),
    ):
        assert resp.status_code == 404
        assert resp.get_json()["error"]["code"] == "not_found"
    assert mine.get("/incidents").get_json()["items"] == []
    assert theirs.get(f"/incidents/{their_id}").get_json()["title"] == incident_payload()["title"]


# ---------------------------------------------------------------- list


def test_keyset_pagination_three_pages_newest_first(api):
    lead = api("lead")
    ids = [lead.post("/incidents", json=incident_payload(title=f"#{n}")).get_json()["id"] for n in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        resp = lead.get("/incidents?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        assert resp.status_code == 200
        page = resp.get_json()
        pages += 1
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(ids, reverse=True)


def test_limit_default_and_maximum(api):
    lead = api("lead")
    lead.post("/incidents", json=incident_payload())
    assert lead.get("/incidents").get_json()["next_cursor"] is None
    assert lead.get("/incidents?limit=200").status_code == 200
    assert "limit" in _fields(lead.get("/incidents?limit=201"))


def test_filters(api):
    lead = api("lead")
    system = lead.post("/ai-systems", json={"name": "Scoring model"}).get_json()["id"]
    a = lead.post("/incidents", json=incident_payload(
        title="与信スコアの偏り", severity="sev1", jurisdictions=["JP", "EU"], harm_types=["discrimination"],
        principles=["fairness"], kind="hazard", ai_system_id=system)).get_json()["id"]
    b = lead.post("/incidents", json=incident_payload(title="Chatbot leak")).get_json()["id"]

    def ids(qs):
        resp = lead.get(f"/incidents?{qs}")
        assert resp.status_code == 200, resp.get_json()
        return [i["id"] for i in resp.get_json()["items"]]

    assert ids("severity=sev1") == [a]
    assert ids("kind=hazard") == [a]
    assert ids("jurisdiction=EU") == [a]
    assert ids("jurisdiction=JP") == [b, a]
    assert ids("harm_type=privacy") == [b]
    assert ids("principle=fairness") == [a]
    assert ids(f"ai_system_id={system}") == [a]
    assert ids("q=スコア") == [a]
    assert ids("q=LEAK") == [b]  # case-insensitive
    assert ids("state=reported") == [b, a]
    assert ids("state=closed") == []


# ---------------------------------------------------------------- edit and timeline


def test_edit_with_version_and_timeline(api):
    lead = api("lead")
    created = lead.post("/incidents", json=incident_payload()).get_json()
    resp = lead.patch(f"/incidents/{created['id']}", json={"version": 1, "severity": "sev1", "deaths": 1})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["severity"] == "sev1" and body["deaths"] == 1 and body["version"] == 2
    events = lead.get(f"/incidents/{created['id']}/timeline").get_json()["items"]
    assert [e["action"] for e in events] == ["filed", "edited"]
    assert events[1]["actor"] == {"id": lead.user.id, "name": lead.user.name}
    assert events[1]["data"]["changes"]["severity"] == ["sev2", "sev1"]
    assert events[0]["at"] <= events[1]["at"] and events[0]["at"].endswith("+00:00")


def test_stale_version_is_409_and_nothing_changes(api):
    lead = api("lead")
    created = lead.post("/incidents", json=incident_payload()).get_json()
    assert lead.patch(f"/incidents/{created['id']}", json={"version": 1, "title": "first"}).status_code == 200
    resp = lead.patch(f"/incidents/{created['id']}", json={"version": 1, "title": "second", "severity": "sev4"})
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "conflict"
    now = lead.get(f"/incidents/{created['id']}").get_json()
    assert now["title"] == "first" and now["severity"] == "sev2" and now["version"] == 2
    assert len(lead.get(f"/incidents/{created['id']}/timeline").get_json()["items"]) == 2


def test_edit_needs_a_version_and_editable_facts(api):
    lead = api("lead")
    incident_id = lead.post("/incidents", json=incident_payload()).get_json()["id"]
    assert set(_fields(lead.patch(f"/incidents/{incident_id}", json={"title": "x"}))) == {"version"}
    fields = _fields(lead.patch(f"/incidents/{incident_id}", json={"version": 1, "state": "closed", "reporter_id": 1}))
    assert set(fields) == {"state", "reporter_id"}
    fields = _fields(lead.patch(f"/incidents/{incident_id}", json={"version": 1, "occurred_at": "2026-01-01T00:00:00"}))
    assert set(fields) == {"occurred_at"}
    assert lead.get(f"/incidents/{incident_id}").get_json()["version"] == 1


@pytest.mark.parametrize("role", ["reporter", "executive"])
def test_reporters_and_executives_may_not_edit(api, role):
    caller = api(role)
    lead = api("lead", org=caller.org)
    filer = caller if role == "reporter" else lead
    incident_id = filer.post("/incidents", json=incident_payload()).get_json()["id"]
    resp = caller.patch(f"/incidents/{incident_id}", json={"version": 1, "title": "changed"})
    assert resp.status_code == 403
    assert lead.get(f"/incidents/{incident_id}").get_json()["title"] == incident_payload()["title"]


def test_responder_may_edit(api):
    lead = api("lead")
    responder = api("responder", org=lead.org)
    incident_id = lead.post("/incidents", json=incident_payload()).get_json()["id"]
    assert responder.patch(f"/incidents/{incident_id}", json={"version": 1, "sector": "retail"}).status_code == 200


def test_edit_ai_system_shows_the_new_system(api):
    lead = api("lead")
    first = lead.post("/ai-systems", json={"name": "First"}).get_json()["id"]
    second = lead.post("/ai-systems", json={"name": "Second"}).get_json()["id"]
    incident_id = lead.post("/incidents", json=incident_payload(ai_system_id=first)).get_json()["id"]
    body = lead.patch(f"/incidents/{incident_id}", json={"version": 1, "ai_system_id": second}).get_json()
    assert body["ai_system"] == {"id": second, "name": "Second"}


def test_empty_query_values_count_as_absent(api):
    lead = api("lead")
    lead.post("/incidents", json=incident_payload())
    resp = lead.get("/incidents?q=&severity=&cursor=")
    assert resp.status_code == 200 and len(resp.get_json()["items"]) == 1
