"""Bearer-token authentication of the API, and GET /me."""
import pytest

from app.extensions import db
from app.orgs import service as orgs
from app.tenancy import scoped


def _assert_error(resp, status, code):
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/incidents", "/api/v1/ai-systems"])
def test_no_token_is_401(client, path):
    _assert_error(client.get(path), 401, "unauthorized")


@pytest.mark.parametrize("header", [
    "ait_abcdef",            # no scheme
    "Token ait_abcdef",      # wrong scheme
    "Bearer",                # no token
    "Bearer    ",            # blank token
    "Basic dXNlcjpwYXNz",    # basic auth
])
def test_malformed_header_is_401(client, header):
    _assert_error(client.get("/api/v1/me", headers={"Authorization": header}), 401, "unauthorized")


@pytest.mark.parametrize("token", ["ait_not-a-real-token", "not-even-prefixed", "ait_" + "x" * 200])
def test_unknown_token_is_401(client, api, token):
    api()  # a real user and token exist; this one is still unknown
    _assert_error(client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}), 401, "unauthorized")


def test_revoked_token_is_401(app, client, api, token_row):
    caller = api("responder")
    token_id, raw = token_row(caller.user)
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    with app.app_context(), scoped(caller.user.org_id):
        orgs.revoke_token(actor=caller.user, token_id=token_id)
        db.session.remove()
    _assert_error(client.get("/api/v1/me", headers=headers), 401, "unauthorized")
    # The caller's other token still works.
    assert caller.get("/me").status_code == 200


def test_deactivated_user_token_is_401(app, api, factory):
    caller = api("responder")
    admin = factory.user(caller.org, "admin")
    with app.app_context(), scoped(caller.org.id):
        orgs.set_active(actor=admin, user_id=caller.user.id, active=False)
        db.session.remove()
    _assert_error(caller.get("/me"), 401, "unauthorized")


def test_me(api):
    caller = api("lead", name="山田 花子")
    resp = caller.get("/me")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["id"] == caller.user.id
    assert body["email"] == caller.user.email
    assert body["name"] == "山田 花子"
    assert body["role"] == "lead"
    assert body["organisation"] == {"slug": caller.org.slug, "name": caller.org.name, "timezone": "Asia/Tokyo"}
    assert "password_hash" not in body


def test_openapi_needs_no_token(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    assert resp.get_json()["openapi"].startswith("3.")


def test_api_responses_are_not_cached(api):
    assert api().get("/me").headers["Cache-Control"] == "no-store"
