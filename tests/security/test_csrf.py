"""CSRF: every state-changing web route refuses a form without this session's token (ASVS 5.0 V3.5.1).

The walk reads ``app.url_map``: every web route answering POST, PUT, PATCH or DELETE is sent
a plausible form as a logged-in admin, once without ``csrf_token`` and once with the token of
another session; each answer must be 400 and nothing may change (the row count of every table,
so also the ledger, which records every action), and the session must survive (logout without a
token does not log out). The JSON API takes no cookies (bearer tokens only), so a browser cannot
be made to call it with the user's credentials: a cookie without a bearer token is a 401.
"""
import re

from sqlalchemy import func, select

from app.extensions import db
from tests.conftest import AuthActions
from tests.security import _world

_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# URL argument -> the kind of object (from the world) or a fixed value.
FILL = {"incident_id": "incident", "system_id": "system", "user_id": "user", "token_id": "token",
        "request_id": "request", "rule_id": "org_rule", "workflow_id": "workflow", "job_id": "report_job",
        "webhook_id": "webhook", "escalation_id": "escalation"}
FIXED = {"lang": "en", "name": "jp-ai-incident"}
FORM = {"version": "1", "title": "forged", "description": "forged", "name": "forged", "email": "x@example.jp",
        "password": "forged-password-123", "new_password": "forged-password-456", "role": "admin",
        "active": "0", "url": "https://evil.example/hook", "transition": "start_triage", "comment": "forged",
        "yaml_text": "id: x", "status": "closed", "incident_ids": "1", "assignee_id": "1", "lang": "en"}


def _web_state_changing_rules(app):
    return sorted((r for r in app.url_map.iter_rules()
                   if not r.rule.startswith("/api/") and r.endpoint != "static" and set(r.methods or ()) & STATE_CHANGING),
                  key=lambda r: r.rule)


def _counts(app):
    with app.app_context():
        out = {t.name: db.session.execute(select(func.count()).select_from(t).execution_options(all_orgs=True)).scalar_one()
               for t in db.metadata.sorted_tables}
        db.session.remove()
    return out


def _url(rule, world):
    def value(m):
        name = m.group(1)
        if name in FIXED:
            return FIXED[name]
        if name == "token":
            return world.ack_token if rule.rule.startswith("/escalations/ack/") else world.invite_token
        return str(world.ids[FILL[name]])
    return _ARG.sub(value, rule.rule)


def test_every_state_changing_web_route_needs_the_csrf_token(app, client, auth):
    world = _world.build(app, slug="csrf", text=lambda name, limit: f"csrf {name}"[:limit])
    assert auth.login(world.admin.email).status_code == 302
    other = app.test_client()
    AuthActions(other).login(world.admin.email)
    foreign_token = AuthActions(other).csrf_token("/account")  # valid, but of another session
    before = _counts(app)

    rules = _web_state_changing_rules(app)
    assert {"web.logout", "web.incident_new", "web.transition_take", "web.account_password", "web.token_create",
            "web.admin_invite", "web.webhook_create", "web.admin_workflow_edit"} <= {r.endpoint for r in rules}
    failures = []
    for rule in rules:
        url = _url(rule, world)
        for method in sorted(set(rule.methods) & STATE_CHANGING):
            for label, extra in (("no token", {}), ("another session's token", {"csrf_token": foreign_token})):
                resp = client.open(url, method=method, data={**FORM, **extra})
                if resp.status_code != 400:
                    failures.append(f"{method} {rule.rule} with {label} -> {resp.status_code}")
    assert not failures, "state-changing routes that took a form without this session's CSRF token:\n" + "\n".join(failures)
    assert _counts(app) == before, "a refused form changed something"
    assert client.get("/incidents").status_code == 200, "the session did not survive (a forged logout worked?)"


def test_the_api_ignores_the_session_cookie(app, client, auth, factory):
    """A browser sends cookies cross-site, never a bearer token: the API answers 401 to a cookie."""
    org = factory.org()
    user = factory.user(org, "admin")
    assert auth.login(user.email).status_code == 302
    assert client.get("/incidents").status_code == 200
    before = _counts(app)
    for method, path in (("POST", "/api/v1/incidents"), ("POST", "/api/v1/ai-systems"),
                         ("POST", "/api/v1/webhooks"), ("GET", "/api/v1/me")):
        resp = client.open(path, method=method, json={"name": "forged", "title": "forged"})
        assert resp.status_code == 401, path
    assert _counts(app) == before
