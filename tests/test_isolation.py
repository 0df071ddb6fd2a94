"""Tenant isolation, proved by walking the URL map.

Every route that takes an object id (an argument named ``id``, ``*_id`` or
``token``) is requested, with every method it answers, by an admin of
organisation A using the ids of organisation B's objects: each answer must be
404. The walk reads ``app.url_map`` at run time, so a new route is checked the
day it is added; an id argument of an unknown name fails the test until it is
mapped to a kind of object here (so no route can escape the check).
"""
import re

import pytest

from app.extensions import db
from app.incidents import deadlines
from app.incidents import service as incidents
from app.orgs import service as orgs
from app.orgs.models import ApiToken
from app.systems import service as systems
from app.tenancy import scoped
from app.workflow import service as workflows
from tests.conftest import PASSWORD, incident_payload

# URL argument -> the kind of organisation-owned object it names.
ID_KINDS = {"escalation_id": "escalation", "incident_id": "incident", "system_id": "system", "user_id": "user", "token_id": "token", "request_id": "request",
            "rule_id": "org_rule", "workflow_id": "workflow", "job_id": "report_job",
            "webhook_id": "webhook"}
# Id-like arguments that do not name an organisation's object, each limited to one path prefix and
# with its reason. Anything else id-like and unmapped fails test_every_id_argument_is_mapped.
NOT_ORG_OBJECTS = {
    ("token", "/invite/"): "an invitation link's secret: a capability for someone not yet logged in",
    ("token", "/escalations/ack/"): "an e-mailed acknowledgement link's signed token: it names its own organisation",
}
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _id_like(name):
    return name == "id" or name.endswith("_id") or name == "token"


def _exempt(rule, name):
    return any(name == arg and rule.rule.startswith(prefix) for (arg, prefix) in NOT_ORG_OBJECTS)


def _rules_with_ids(app):
    """(rule, its id arguments) for every rule with an id argument that names an organisation's object."""
    found = []
    for rule in app.url_map.iter_rules():
        names = [n for n in rule.arguments if _id_like(n) and not _exempt(rule, n)]
        if names:
            found.append((rule, names))
    return found


def _url(rule, values):
    return _ARG.sub(lambda m: str(values[m.group(1)]), rule.rule)


def test_every_id_argument_is_mapped(app):
    unknown = [
        f"{rule.rule} ({rule.endpoint}): <{name}>"
        for rule, names in _rules_with_ids(app) for name in names if name not in ID_KINDS
    ]
    assert not unknown, (
        "routes with id arguments this test does not know; name them one of "
        f"{sorted(ID_KINDS)} (or map the new kind here): {unknown}"
    )
    # Rules with an id argument must not take other arguments the walker cannot fill in.
    odd = [rule.rule for rule, names in _rules_with_ids(app) if set(rule.arguments) - set(names)]
    assert not odd, f"id routes with other arguments (teach the walker): {odd}"


def _make_objects(app, org, admin, *, title):
    """One object of each kind in ``org``, made through the services; returns {kind: id}."""
    with app.app_context(), scoped(org.id):
        system = systems.create_system(actor=admin, data={"name": f"{title} system"})
        incident = incidents.file_incident(
            actor=admin, data=_parsed(incident_payload(title=title, ai_system_id=system.id)))
        user = orgs.create_user(org=org, email=f"someone@{org.slug}.example.jp", name="Someone",
                                role="responder", password=PASSWORD)
        token, _ = orgs.create_token(user=user, name="theirs")
        rule = deadlines.save_org_rule(actor=admin, data={
            "id": "exec-briefing", "label": {"en": f"{title} briefing", "ja": f"{title} 報告"},
            "source": "Internal policy", "timezone": "Asia/Tokyo", "period": {"days": 1}})
        ids = {"incident": incident.id, "system": system.id, "user": user.id, "token": token.id,
               "org_rule": rule.id}
        ids["request"] = _ministry_request(admin).id
        ids["workflow"] = workflows.copy_workflow(actor=admin, workflow_id="jp-ai-incident").id
        ids["escalation"] = _escalation(admin, title)
        from app.escalation import endpoints as webhooks

        ids["webhook"] = webhooks.create_endpoint(actor=admin, data={"url": f"https://{org.slug}.example.jp/hook"})[0].id
        from app.reports import service as reports

        ids["report_job"] = reports.create_pack_job(actor=admin, incident_id=incident.id, fmt="json", locale="en").id
        db.session.remove()
    return ids


def _escalation(admin, title):
    """An escalation of the admin's organisation: filing at SEV1 escalates at once."""
    from sqlalchemy import select

    from app.escalation.models import Escalation

    incident = incidents.file_incident(
        actor=admin, data=_parsed(incident_payload(title=f"{title} SEV1", severity="sev1")))
    return db.session.execute(select(Escalation).where(Escalation.incident_id == incident.id)
                              .order_by(Escalation.id)).unique().scalars().first().id


def _ministry_request(admin):
    """A ministry request of the admin's organisation (made through the liaison service)."""
    from datetime import datetime, timezone

    from app.liaison import service as liaison

    return liaison.create_request(actor=admin, data={
        "ministry": "meti", "reference": "20260401-1", "received_at": datetime.now(timezone.utc)})


def _parsed(payload):
    """The API payload with datetimes parsed (the services take Python values)."""
    from datetime import datetime

    return {k: datetime.fromisoformat(v) if k.endswith("_at") else v for k, v in payload.items()}


def _snapshot(app, org, ids):
    """What B's objects look like, to prove the walk changed nothing."""
    with app.app_context(), scoped(org.id):
        caller = orgs.get_user(ids["user"])
        admin = orgs.list_users()[0]
        incident = incidents.get_incident(actor=admin, incident_id=ids["incident"])
        events = incidents.timeline(actor=admin, incident_id=ids["incident"])
        system = systems.get_system(ids["system"])
        token = db.session.get(ApiToken, ids["token"])
        snap = {
            "incident": (incident.title, incident.version, incident.severity, incident.state, len(events)),
            "system": (system.name, system.status, system.updated_at),
            "user": (caller.role, caller.active, caller.name, caller.password_hash),
            "token": (token.revoked_at, token.name),
            "users": len(orgs.list_users()),
            "org_rules": [(r.rule_id, r.active, r.definition) for r in deadlines.list_org_rules()],
        }
        db.session.remove()
    return snap


@pytest.fixture
def two_orgs(app, factory):
    """Org A (an admin with an API token, its own objects) and org B (one object of each kind)."""
    org_a, org_b = factory.org("alpha"), factory.org("beta")
    admin_a = factory.user(org_a, "admin", email="admin@alpha.example.jp")
    admin_b = factory.user(org_b, "admin", email="admin@beta.example.jp")
    token_a = factory.token(admin_a)
    own = _make_objects(app, org_a, admin_a, title="Alpha's own")
    theirs = _make_objects(app, org_b, admin_b, title="Beta's secret")
    # Ids must differ, or a request for B's id could land on A's object of the same id.
    for kind in ID_KINDS.values():
        assert own[kind] != theirs[kind], kind
    return {"org_a": org_a, "org_b": org_b, "admin_a": admin_a, "token_a": token_a, "own": own, "theirs": theirs}


def _csrf(auth):
    for path in ("/account", "/incidents/new", "/tokens", "/"):
        try:
            return auth.csrf_token(path)
        except AssertionError:
            continue
    raise AssertionError("no page with a CSRF token to borrow")


def _request(client, rule, method, url, *, token, csrf, version):
    if rule.rule.startswith("/api/"):
        headers = {"Authorization": f"Bearer {token}"}
        body = None if method == "GET" else {"version": version}
        return client.open(url, method=method, json=body, headers=headers)
    data = None if method == "GET" else {"csrf_token": csrf, "version": str(version)}
    return client.open(url, method=method, data=data)


def test_other_orgs_ids_are_404_on_every_route(app, client, auth, two_orgs):
    setup = two_orgs
    login = auth.login(setup["admin_a"].email)
    assert login.status_code == 302, "org A's admin could not log in"
    csrf = _csrf(auth)
    before = _snapshot(app, setup["org_b"], setup["theirs"])

    visited, failures, control_failures = [], [], []
    for rule, names in _rules_with_ids(app):
        theirs = {name: setup["theirs"][ID_KINDS[name]] for name in names}
        own = {name: setup["own"][ID_KINDS[name]] for name in names}
        for method in sorted(set(rule.methods or ()) & set(METHODS)):
            resp = _request(client, rule, method, _url(rule, theirs),
                            token=setup["token_a"], csrf=csrf, version=1)
            visited.append((rule.endpoint, method))
            if resp.status_code != 404:
                failures.append(f"{method} {rule.rule} ({rule.endpoint}) with B's ids -> {resp.status_code}")
            if method == "GET":
                # Control: the same route with A's own ids is found, so the 404 above meant something.
                control = _request(client, rule, method, _url(rule, own),
                                   token=setup["token_a"], csrf=csrf, version=1)
                if control.status_code == 404:
                    control_failures.append(f"GET {rule.rule} with A's own ids -> 404")

    assert not failures, "another organisation's object must be a 404:\n" + "\n".join(failures)
    assert not control_failures, "\n".join(control_failures)

    # The walker saw every API route that takes an id, with each of its methods.
    api_expected = {
        (rule.endpoint, method)
        for rule, _ in _rules_with_ids(app) if rule.rule.startswith("/api/")
        for method in set(rule.methods) & set(METHODS)
    }
    assert api_expected and api_expected <= set(visited)
    for endpoint in ("api.get_incident", "api.update_incident", "api.incident_timeline",
                     "api.get_system", "api.update_system"):
        assert any(e == endpoint for e, _ in visited), endpoint

    # Still logged in as A (the walk did not end the session) and B's objects are untouched.
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {setup['token_a']}"}).status_code == 200
    assert _snapshot(app, setup["org_b"], setup["theirs"]) == before


def test_walker_flags_an_unmapped_id_argument(app):
    """The guard itself works: a rule with an unknown id name would be reported."""
    from werkzeug.routing import Map, Rule

    class Fake:
        url_map = Map([Rule("/widgets/<int:widget_id>", endpoint="widget"), Rule("/x/<int:id>", endpoint="x"),
                       Rule("/reset/<token>", endpoint="reset"), Rule("/invite/<token>", endpoint="invite")])

    names = sorted((rule.rule, n) for rule, ns in _rules_with_ids(Fake) for n in ns if n not in ID_KINDS)
    assert names == [("/reset/<token>", "token"), ("/widgets/<int:widget_id>", "widget_id"), ("/x/<int:id>", "id")]
