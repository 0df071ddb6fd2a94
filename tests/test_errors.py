"""One error handler: the contract's JSON shape under /api, an HTML page elsewhere."""
import pytest


def test_api_404_is_json(client, factory):
    org = factory.org()
    token = factory.token(factory.user(org, "lead"))
    resp = client.get("/api/v1/nope", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 404
    body = resp.get_json()
    assert body["error"]["code"] == "not_found"
    assert isinstance(body["error"]["message"], str) and body["error"]["fields"] == {}


def test_api_401_is_json(client):
    resp = client.get("/api/v1/incidents")
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"


def test_api_405_is_json_with_allow(client, factory):
    token = factory.token(factory.user(factory.org(), "lead"))
    resp = client.delete("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 405
    assert resp.get_json()["error"]["code"] == "method_not_allowed"
    assert "GET" in resp.headers["Allow"]


def test_api_413_is_json(client, factory, app):
    token = factory.token(factory.user(factory.org(), "lead"))
    big = b"{" + b" " * (app.config["MAX_CONTENT_LENGTH"] + 10) + b"}"
    resp = client.post("/api/v1/incidents", data=big, content_type="application/json",
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 413
    assert resp.get_json()["error"]["code"] == "payload_too_large"


def test_html_404_page(client):
    resp = client.get("/no-such-page", headers={"Accept": "text/html", "Accept-Language": "en"})
    assert resp.status_code == 404
    assert resp.mimetype == "text/html"
    assert "<html" in resp.get_data(as_text=True).lower()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 413, 422, 429, 500])
def test_every_status_has_both_shapes(app, status):
    """The handler answers each contract status as JSON under /api and HTML elsewhere."""
    from werkzeug.exceptions import default_exceptions

    from app.errors import CODES

    exc = default_exceptions[status]
    with app.test_request_context("/api/v1/x"):
        resp = app.handle_user_exception(exc())
        assert resp.status_code == status
        assert resp.get_json()["error"]["code"] == CODES[status]
    with app.test_request_context("/somewhere", headers={"Accept": "text/html"}):
        resp = app.handle_user_exception(exc())
        assert resp.status_code == status
        assert resp.mimetype == "text/html"


def test_unexpected_exception_is_500_without_details(app, client, factory):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    token = factory.token(factory.user(factory.org(), "lead"))
    from app.orgs import service as orgs

    original = orgs.authenticate_token

    def boom(raw):
        raise RuntimeError("secret internal detail")

    orgs.authenticate_token = boom
    try:
        resp = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
    finally:
        orgs.authenticate_token = original
        app.config["PROPAGATE_EXCEPTIONS"] = None
    assert resp.status_code == 500
    body = resp.get_json()
    assert body["error"]["code"] == "internal_error"
    assert "secret internal detail" not in resp.get_data(as_text=True)


def test_security_headers(client):
    resp = client.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_healthz(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json()["status"] == "ok"
