"""The ledger API (roles and shapes) and the admins' ledger page."""
import pytest

from app.ledger import service as ledger
from tests.ledger.conftest import sql


@pytest.fixture
def tokens(team, factory):
    return {role: factory.token(user) for role, user in team.users.items()}


def _get(client, token, path, **kw):
    return client.get("/api/v1" + path, headers={"Authorization": f"Bearer {token}"}, **kw)


def _post(client, token, path):
    return client.post("/api/v1" + path, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("role,status", [("reporter", 403), ("responder", 403), ("lead", 200),
                                         ("executive", 200), ("admin", 200)])
def test_verify_roles(client, tokens, role, status):
    resp = _get(client, tokens[role], "/ledger/verify")
    assert resp.status_code == status
    if status == 403:
        assert resp.get_json()["error"]["code"] == "forbidden"


def test_verify_shape(client, team, tokens):
    body = _get(client, tokens["lead"], "/ledger/verify").get_json()
    assert set(body) == {"ok", "entries", "first_bad", "head", "checkpoint"}
    assert body["ok"] is True and body["first_bad"] is None and body["checkpoint"] is None
    assert body["entries"] == body["head"]["seq"] == len(team.entries())
    sql(client.application, "UPDATE ledger_entry SET action = 'x' WHERE org_id = :o AND seq = 2", o=team.org.id)
    bad = _get(client, tokens["lead"], "/ledger/verify").get_json()["first_bad"]
    assert set(bad) == {"seq", "id", "problem"} and bad["seq"] == 2


@pytest.mark.parametrize("role,status", [("reporter", 403), ("responder", 403), ("lead", 403),
                                         ("executive", 200), ("admin", 200)])
def test_entries_roles(client, tokens, role, status):
    assert _get(client, tokens[role], "/ledger/entries").status_code == status


def test_entries_pages_and_filters(client, team, tokens):
    incident_id = team.file()
    total = len(team.entries())
    token = tokens["admin"]
    first = _get(client, token, "/ledger/entries?limit=3").get_json()
    assert [e["seq"] for e in first["items"]] == [1, 2, 3] and first["next_after_seq"] == 3
    entry = first["items"][0]
    assert set(entry) == {"id", "seq", "at", "actor", "actor_id", "action", "subject_type", "subject_id",
                          "payload", "prev_hash", "hash"}
    assert entry["action"] == "org_created" and entry["payload"]["slug"] == "ledgerco" and entry["at"].endswith("Z")
    rest = _get(client, token, "/ledger/entries?after_seq=3&limit=500").get_json()
    assert [e["seq"] for e in rest["items"]] == list(range(4, total + 1)) and rest["next_after_seq"] is None
    only = _get(client, token, f"/ledger/entries?subject_type=incident&subject_id={incident_id}").get_json()
    assert only["items"] and all(e["subject_id"] == incident_id for e in only["items"])
    assert "incident_filed" in {e["action"] for e in only["items"]}
    for bad in ("limit=501", "limit=0", "after_seq=-1", "subject_id=x"):
        resp = _get(client, token, f"/ledger/entries?{bad}")
        assert resp.status_code == 422, bad


def test_entries_are_the_callers_organisations_only(client, factory, team, tokens):
    other = factory.org("elsewhere")
    other_admin = factory.user(other, "admin")
    theirs = _get(client, factory.token(other_admin), "/ledger/entries").get_json()["items"]
    assert [e["action"] for e in theirs] == ["org_created", "user_created", "token_created"]

    mine = _get(client, tokens["admin"], "/ledger/entries?limit=500").get_json()["items"]
    assert not {e["id"] for e in theirs} & {e["id"] for e in mine}


def test_checkpoint_get_404_then_post_and_get(client, team, tokens):
    assert _get(client, tokens["lead"], "/ledger/checkpoint").status_code == 404
    assert _post(client, tokens["lead"], "/ledger/checkpoint").status_code == 403
    assert _post(client, tokens["executive"], "/ledger/checkpoint").status_code == 403
    head_before = len(team.entries())
    resp = _post(client, tokens["admin"], "/ledger/checkpoint")
    assert resp.status_code == 201 and resp.headers["Location"].endswith("/api/v1/ledger/checkpoint")
    document = resp.get_json()
    assert document["seq"] == head_before and document["algorithm"] == "ed25519"
    assert ledger.signature_ok(document, document["public_key"])
    assert _get(client, tokens["executive"], "/ledger/checkpoint").get_json() == document
    assert _get(client, tokens["reporter"], "/ledger/checkpoint").status_code == 403
    signed_entry = team.entries()[-1]
    assert signed_entry["action"] == "ledger_checkpoint" and signed_entry["actor_id"] == team.users["admin"].id
    verified = _get(client, tokens["admin"], "/ledger/verify").get_json()
    assert verified["ok"] and verified["checkpoint"]["matches"] and verified["checkpoint"]["seq"] == head_before


def test_ledger_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"get"} <= set(paths["/api/v1/ledger/verify"]) and {"get"} <= set(paths["/api/v1/ledger/entries"])
    assert {"get", "post"} <= set(paths["/api/v1/ledger/checkpoint"])


def test_admin_page(client, auth, team):
    auth.login(team.users["admin"].email)
    page = client.get("/admin/ledger", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    head = team.entries()[-1]
    assert head["hash"] in html and 'id="ledger-ok"' in html and "org_created" in html
    assert "No checkpoint has been signed yet." in html and 'href="/admin/ledger"' in html
    token = auth.csrf_token("/admin/ledger")
    resp = client.post("/admin/ledger/checkpoint", data={"csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/ledger")
    assert team.entries()[-1]["action"] == "ledger_checkpoint"
    html = client.get("/admin/ledger", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "The chain matches it." in html


    sql(client.application, "UPDATE ledger_entry SET payload = '{}' WHERE org_id = :o AND seq = 2", o=team.org.id)
    html = client.get("/admin/ledger", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'id="ledger-broken"' in html and "Entry number 2 was changed after it was written." in html


@pytest.mark.parametrize("role", ["reporter", "lead", "executive"])
def test_admin_page_is_for_admins(client, auth, team, role):
    auth.login(team.users[role].email)
    assert client.get("/admin/ledger").status_code == 403
    assert client.post("/admin/ledger/checkpoint", data={"csrf_token": auth.csrf_token("/account")}).status_code == 403
