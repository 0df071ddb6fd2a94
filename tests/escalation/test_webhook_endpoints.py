"""Webhook endpoints: the service (admins only, validation, ledger without secrets), the
admin pages (secret shown once, errors beside fields, buttons) and the API."""
import re

import pytest
from sqlalchemy import select

from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.escalation import endpoints, webhooks
from app.escalation.models import WebhookEndpoint
from app.extensions import db
from app.ledger.models import LedgerEntry
from app.orgs import service as orgs
from app.tenancy import scoped
from tests.escalation._servers import Receiver

HOOK = "https://hooks.example.jp/ait"


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


class Admin:
    """Call the endpoints service as one user of one organisation."""

    def __init__(self, app, factory, role="admin", org=None):
        self.app = app
        self.org = org or factory.org()
        self.user = factory.user(self.org, role)

    def __call__(self, fn, **kwargs):
        with self.app.app_context(), scoped(self.org.id):
            result = fn(actor=orgs.get_user(self.user.id), **kwargs)
            db.session.expunge_all()
            return result

    def ledger(self):
        with self.app.app_context(), scoped(self.org.id):
            rows = db.session.execute(select(LedgerEntry).order_by(LedgerEntry.seq)).scalars().all()
            out = [(e.action, e.subject_type, e.subject_id, e.payload) for e in rows]
            db.session.remove()
        return out


# ---------------------------------------------------------------- the service


def test_create_returns_the_secret_once_and_the_ledger_never_holds_it(app, factory):
    admin = Admin(app, factory)
    endpoint, secret = admin(endpoints.create_endpoint,
                             data={"url": f"  {HOOK}  ", "description": "On-call chat", "min_level": 2})
    assert secret.startswith("whsec_") and len(secret) >= 6 + 43
    assert (endpoint.url, endpoint.description, endpoint.min_level, endpoint.active) == (HOOK, "On-call chat", 2, True)
    assert endpoints.secret_hint(endpoint) == secret[:10] + "…"
    rows = admin(endpoints.list_endpoints)
    assert [r.id for r in rows] == [endpoint.id]

    _e, rotated = admin(endpoints.rotate_secret, webhook_id=endpoint.id)
    assert rotated != secret and rotated.startswith("whsec_")
    assert admin(endpoints.deactivate_endpoint, webhook_id=endpoint.id).active is False
    assert admin(endpoints.deactivate_endpoint, webhook_id=endpoint.id).active is False  # idempotent
    with pytest.raises(Conflict):
        admin(endpoints.rotate_secret, webhook_id=endpoint.id)

    entries = [e for e in admin.ledger() if e[0].startswith("webhook_")]
    assert [e[0] for e in entries] == ["webhook_created", "webhook_secret_rotated", "webhook_deactivated"]
    assert all(e[1:3] == ("webhook_endpoint", endpoint.id) for e in entries)
    assert '"url":"https://hooks.example.jp/ait"' in entries[0][3] and '"min_level":2' in entries[0][3]
    for entry in admin.ledger():
        assert secret not in entry[3] and rotated not in entry[3] and "whsec_" not in entry[3]


@pytest.mark.parametrize("data, field", [
    ({"url": "ftp://hooks.example.jp/x"}, "url"),
    ({"url": "hooks.example.jp/x"}, "url"),
    ({"url": "https://"}, "url"),
    ({"url": "https://exa mple.jp/"}, "url"),
    ({"url": ""}, "url"),
    ({"url": "https://example.jp/" + "a" * 500}, "url"),
    ({"url": HOOK, "min_level": 0}, "min_level"),
    ({"url": HOOK, "min_level": 10}, "min_level"),
    ({"url": HOOK, "min_level": "high"}, "min_level"),
    ({"url": HOOK, "min_level": True}, "min_level"),
    ({"url": HOOK, "description": "x" * 201}, "description"),
    ({"url": 5}, "url"),
    ({"url": HOOK, "description": 7}, "description"),
])
def test_validation_names_the_field(app, factory, data, field):
    admin = Admin(app, factory)
    with pytest.raises(ValidationFailed) as err:
        admin(endpoints.create_endpoint, data=data)
    assert list(err.value.fields) == [field]
    assert admin(endpoints.list_endpoints) == []


def test_only_admins_and_only_their_own_organisations_endpoints(app, factory):
    admin = Admin(app, factory)
    endpoint, _secret = admin(endpoints.create_endpoint, data={"url": HOOK})
    lead = Admin(app, factory, role="lead", org=admin.org)
    for call, kwargs in ((endpoints.list_endpoints, {}), (endpoints.create_endpoint, {"data": {"url": HOOK}}),
                         (endpoints.deactivate_endpoint, {"webhook_id": endpoint.id}),
                         (endpoints.rotate_secret, {"webhook_id": endpoint.id}),
                         (endpoints.send_test, {"webhook_id": endpoint.id})):
        with pytest.raises(Forbidden):
            lead(call, **kwargs)
    other = Admin(app, factory)
    for call in (endpoints.deactivate_endpoint, endpoints.rotate_secret, endpoints.send_test):
        with pytest.raises(NotFound):
            other(call, webhook_id=endpoint.id)
    assert other(endpoints.list_endpoints) == []
    assert admin(endpoints.list_endpoints)[0].active is True


def test_test_ping_is_signed_and_reports_the_answer(app, factory, receiver):
    admin = Admin(app, factory)
    endpoint, secret = admin(endpoints.create_endpoint, data={"url": receiver.url})
    receiver.secret = secret
    result = admin(endpoints.send_test, webhook_id=endpoint.id)
    assert result["ok"] is True and result["status"] == 200 and result["error"] == ""
    [request] = receiver.requests
    assert request["json"]["event"] == "ping" and request["headers"]["x-ait-delivery"] == result["delivery"]
    receiver.fail_with = 500
    result = admin(endpoints.send_test, webhook_id=endpoint.id)
    assert result["ok"] is False and result["status"] == 500 and "HTTP 500" in result["error"]
    receiver.secret = "whsec_wrong"
    result = admin(endpoints.send_test, webhook_id=endpoint.id)
    assert (result["ok"], result["status"]) == (False, 401)


def test_test_ping_to_nobody_reports_the_error(app, factory):
    from tests.escalation._servers import free_port

    admin = Admin(app, factory)
    endpoint, _secret = admin(endpoints.create_endpoint, data={"url": f"http://127.0.0.1:{free_port()}/x"})
    result = admin(endpoints.send_test, webhook_id=endpoint.id)
    assert result["ok"] is False and result["status"] is None and "no answer from" in result["error"]


# ---------------------------------------------------------------- admin pages


def _csrf(html):
    match = re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def _login(client, auth, factory, role="admin", org=None, locale="en"):
    org = org or factory.org()
    user = factory.user(org, role, locale=locale)
    assert auth.login(user.email).status_code == 302
    return org, user


def test_admin_page_add_secret_once_deactivate(app, client, auth, factory):
    org, _user = _login(client, auth, factory)
    page = client.get("/admin/webhooks")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="/admin/webhooks"' in html and 'aria-current="page">Webhooks<' in html  # the admin nav
    assert "No webhook endpoints yet." in html
    token = _csrf(html)

    created = client.post("/admin/webhooks", data={"csrf_token": token, "url": HOOK, "description": "Pager",
                                                   "min_level": "3"})
    assert created.status_code == 200
    html = created.get_data(as_text=True)
    secret = re.search(r'<code class="secret" id="new-secret">(whsec_[^<]+)</code>', html).group(1)
    with app.app_context(), scoped(org.id):
        row = db.session.execute(select(WebhookEndpoint)).scalar_one()
        assert (row.url, row.description, row.min_level, row.secret) == (HOOK, "Pager", 3, secret)
        endpoint_id = row.id
        db.session.remove()
    again = client.get("/admin/webhooks").get_data(as_text=True)
    assert created.headers["Cache-Control"] == "no-store"
    assert secret not in again and HOOK in again and secret[:10] + "…" in again
    assert "Level 3: Executives and the board" in again

    rotated = client.post(f"/admin/webhooks/{endpoint_id}/rotate", data={"csrf_token": token})
    assert rotated.status_code == 200
    new_secret = re.search(r'id="new-secret">(whsec_[^<]+)<', rotated.get_data(as_text=True)).group(1)
    assert new_secret != secret

    done = client.post(f"/admin/webhooks/{endpoint_id}/deactivate", data={"csrf_token": token})
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/webhooks")
    html = client.get("/admin/webhooks").get_data(as_text=True)
    assert "Deactivated" in html and f"/admin/webhooks/{endpoint_id}/deactivate" not in html
    # No inline scripts or style attributes (CSP).
    assert "<script" not in html and "style=" not in html


def test_admin_page_errors_beside_the_field(app, client, auth, factory):
    _login(client, auth, factory)
    token = _csrf(client.get("/admin/webhooks").get_data(as_text=True))
    bad = client.post("/admin/webhooks", data={"csrf_token": token, "url": "ftp://hooks.example.jp/x",
                                               "min_level": "1"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    field = html.split('<div class="field field-url">', 1)[1].split("</div>", 1)[0]
    assert 'class="field-error"' in field and "https://" in field and 'aria-invalid="true"' in field
    assert 'value="ftp://hooks.example.jp/x"' in field
    assert "error-summary" in html
    missing = client.post("/admin/webhooks", data={"csrf_token": token, "url": "", "min_level": "1"})
    assert missing.status_code == 422
    assert 'field-error' in missing.get_data(as_text=True).split('field-url">', 1)[1].split("</div>", 1)[0]
    no_csrf = client.post("/admin/webhooks", data={"url": HOOK, "min_level": "1"})
    assert no_csrf.status_code == 400  # Flask-WTF: the CSRF token is missing
    with app.app_context():
        assert db.session.execute(
            select(WebhookEndpoint).execution_options(all_orgs=True)).scalars().all() == []
        db.session.remove()


def test_admin_page_test_ping_button(app, client, auth, factory, receiver):
    org, user = _login(client, auth, factory)
    with app.app_context(), scoped(org.id):
        endpoint, secret = endpoints.create_endpoint(actor=orgs.get_user(user.id), data={"url": receiver.url})
        endpoint_id = endpoint.id
        db.session.remove()
    receiver.secret = secret
    token = _csrf(client.get("/admin/webhooks").get_data(as_text=True))
    answer = client.post(f"/admin/webhooks/{endpoint_id}/test", data={"csrf_token": token}, follow_redirects=True)
    assert "The test ping was answered with HTTP 200" in answer.get_data(as_text=True)
    receiver.fail_with = 503
    answer = client.post(f"/admin/webhooks/{endpoint_id}/test", data={"csrf_token": token}, follow_redirects=True)
    assert "The test ping failed: HTTP 503" in answer.get_data(as_text=True)


def test_admin_pages_are_for_admins_only(app, client, auth, factory):
    admin = Admin(app, factory)
    endpoint, _secret = admin(endpoints.create_endpoint, data={"url": HOOK})
    _login(client, auth, factory, role="lead", org=admin.org)
    assert client.get("/admin/webhooks").status_code == 403
    token = _csrf(client.get("/account").get_data(as_text=True))
    assert 'href="/admin/webhooks"' not in client.get("/account").get_data(as_text=True)
    assert client.post("/admin/webhooks", data={"csrf_token": token, "url": HOOK}).status_code == 403
    for action in ("deactivate", "rotate", "test"):
        assert client.post(f"/admin/webhooks/{endpoint.id}/{action}", data={"csrf_token": token}).status_code == 403
    assert admin(endpoints.list_endpoints)[0].active is True


# ---------------------------------------------------------------- the API


def _api(client, factory, role="admin", org=None):
    org = org or factory.org()
    user = factory.user(org, role)
    token = factory.token(user)

    def call(method, path, json=None):
        return client.open("/api/v1" + path, method=method, json=json, headers={"Authorization": f"Bearer {token}"})

    return org, call


def test_api_create_list_deactivate(app, client, factory):
    org, call = _api(client, factory)
    created = call("POST", "/webhooks", {"url": HOOK, "description": "SIEM", "min_level": 2})
    assert created.status_code == 201
    body = created.get_json()
    assert body["secret"].startswith("whsec_") and body["url"] == HOOK and body["min_level"] == 2
    assert body["active"] is True and body["secret_hint"] == body["secret"][:10] + "…"
    assert created.headers["Location"].endswith(f"/api/v1/webhooks/{body['id']}")
    assert created.headers["Cache-Control"] == "no-store"

    listed = call("GET", "/webhooks").get_json()
    assert [i["id"] for i in listed["items"]] == [body["id"]]
    assert "secret" not in listed["items"][0] and body["secret"] not in str(listed)
    one = call("GET", f"/webhooks/{body['id']}")
    assert one.status_code == 200 and "secret" not in one.get_json()

    off = call("POST", f"/webhooks/{body['id']}/deactivate")
    assert off.status_code == 200 and off.get_json()["active"] is False
    assert call("GET", "/webhooks").get_json()["items"][0]["active"] is False


def test_api_errors(app, client, factory):
    org, call = _api(client, factory)
    bad = call("POST", "/webhooks", {"url": "gopher://hooks.example.jp"})
    assert bad.status_code == 422
    error = bad.get_json()["error"]
    assert error["code"] == "validation_failed" and list(error["fields"]) == ["url"]
    bad = call("POST", "/webhooks", {"url": HOOK, "min_level": 12})
    assert bad.status_code == 422 and list(bad.get_json()["error"]["fields"]) == ["min_level"]
    assert call("POST", "/webhooks", {}).get_json()["error"]["fields"] == {"url": ["Required."]}
    assert client.post("/api/v1/webhooks", data="x").status_code == 401
    assert call("GET", "/webhooks/999999").status_code == 404
    assert call("POST", "/webhooks/999999/deactivate").status_code == 404

    created = call("POST", "/webhooks", {"url": HOOK}).get_json()
    _org, lead = _api(client, factory, role="lead", org=org)
    for method, path in (("GET", "/webhooks"), ("POST", "/webhooks"), ("GET", f"/webhooks/{created['id']}"),
                         ("POST", f"/webhooks/{created['id']}/deactivate")):
        answer = lead(method, path, {"url": HOOK} if method == "POST" else None)
        assert answer.status_code == 403, (method, path)
        assert answer.get_json()["error"]["code"] == "forbidden"
    # Another organisation's admin: 404, and nothing changes.
    _other, stranger = _api(client, factory)
    assert stranger("GET", f"/webhooks/{created['id']}").status_code == 404
    assert stranger("POST", f"/webhooks/{created['id']}/deactivate").status_code == 404
    assert stranger("GET", "/webhooks").get_json() == {"items": []}
    assert call("GET", f"/webhooks/{created['id']}").get_json()["active"] is True


def test_verify_accepts_what_post_sends(receiver):
    """The sending and verifying halves agree (no app involved: what a receiver runs)."""
    receiver.secret = "whsec_standalone"
    status = webhooks.post(receiver.url, receiver.secret, b'{"event":"ping"}', delivery_id="ping-1", timeout=5)
    assert status == 200 and receiver.requests[0]["verdict"] == "ok"
