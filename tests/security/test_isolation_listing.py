"""Tenant isolation of every listing: no page or API answer shows another organisation's data.

tests/test_isolation.py proves that another organisation's *ids* are a 404 on every route
that takes one. This file covers the rest: every GET route *without* an id argument, in both
blueprints (lists, search with ``q=``, the CSV / JSON / AIID exports, the dashboard and its
CSV tables, metrics, the queue, escalations, notifications, ledger entries, webhooks, admin
pages), read from ``app.url_map`` at run time. An admin of organisation A requests each one
(with filters and search queries naming B's secrets) and no answer may contain any of
organisation B's distinctive strings: every free-text field of B (incident title and
description, AI system name and details, people's names, ministry reference, webhook URL and
description, workflow and rule labels, transition comments, token names, the org's name).
A route argument that is not an object id must be filled by FILL below, or the test fails,
so a new page is walked the day it is added.
"""
import re

import pytest

from app.orgs import service as orgs
from tests.security import _world

_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _id_like(name):
    return name == "id" or name.endswith("_id") or name == "token"


def _fill(app):
    """URL argument -> the values to try (for routes whose arguments are not object ids)."""
    from app.web.dashboard import TABLES
    from app.workflow import loader

    with app.app_context():
        shipped = sorted(loader.shipped())
    return {"name": {"web.dashboard_csv": sorted(TABLES), "web.admin_workflow_shipped": shipped},
            "filename": None}


# Routes left out, with the reason (capability links checked by their own tests).
SKIPPED = {
    "static": "the app's own CSS and JavaScript files",
    "web.accept_invite": "an invitation's secret token: a capability for someone not yet logged in",
    "web.escalation_ack_link": "an e-mailed acknowledgement link's signed token; it names its own organisation",
}

# Query strings tried on every route (search and filters), besides none at all.
def _queries():
    # Parts of B's texts, never a whole one: a page may echo the query back in its search box.
    return ["", "?q=BETA-SECRET", "?q=SECRET-incident", "?q=system_name", "?q=BETA",
            "?limit=200", "?include_confidential=1&days=365", "?status=open", "?tab=all"]


def _marker(name, limit):
    return f"BETA-SECRET-{name}"[:limit]


def _routes(app):
    """(rule, [urls]) for every GET route without an id argument."""
    fill = _fill(app)
    out, unknown = [], []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in (rule.methods or ()) or rule.endpoint in SKIPPED:
            continue
        if any(_id_like(a) for a in rule.arguments):
            continue  # tests/test_isolation.py
        if not rule.arguments:
            out.append((rule, [rule.rule]))
            continue
        urls = [rule.rule]
        for arg in rule.arguments:
            values = (fill.get(arg) or {}).get(rule.endpoint)
            if not values:
                unknown.append(f"{rule.rule} ({rule.endpoint}): <{arg}>")
                break
            urls = [_ARG.sub(lambda m, v=v, a=arg: v if m.group(1) == a else m.group(0), u)
                    for u in urls for v in values]
        else:
            out.append((rule, urls))
    assert not unknown, f"routes with arguments the walker cannot fill (add them to _fill): {unknown}"
    return out


@pytest.fixture
def two_worlds(app):
    a = _world.build(app, slug="alpha", text=lambda name, limit: f"ALPHA-OWN-{name}"[:limit])
    b = _world.build(app, slug="beta", text=_marker)
    return a, b


def test_every_listing_route_is_walked(app):
    endpoints = {rule.endpoint for rule, _ in _routes(app)}
    for expected in ("web.incidents_list", "web.incidents_export_csv", "web.incidents_export_json",
                     "web.incidents_export_aiid", "web.dashboard_page", "web.dashboard_csv", "web.queue_page",
                     "web.escalations_page", "web.notifications_page", "web.admin_ledger", "web.webhooks_page",
                     "web.systems_list", "web.ministry_requests_list", "web.admin_users", "web.admin_rules",
                     "web.admin_workflows", "web.tokens", "api.list_incidents", "api.export_incidents_csv",
                     "api.export_incidents_json", "api.export_incidents_aiid", "api.get_metrics", "api.get_queue",
                     "api.open_escalations", "api.my_notifications", "api.list_ledger_entries",
                     "api.list_webhooks", "api.list_systems", "api.list_ministry_requests"):
        assert expected in endpoints, expected


def test_no_listing_shows_another_organisations_data(app, client, auth, two_worlds):
    a, b = two_worlds
    secrets = {name: value for name, value in b.texts.items() if len(value) >= 8}
    assert len(secrets) > 25 and "webhook_url" in secrets and "ministry_reference" in secrets
    assert auth.login(a.admin.email).status_code == 302
    bearer = {"Authorization": f"Bearer {a.api_token}"}

    leaks, seen, own_seen = [], 0, set()
    for rule, urls in _routes(app):
        headers = bearer if rule.rule.startswith("/api/") else {}
        for url in urls:
            for query in _queries():
                resp = client.get(url + query, headers=headers)
                body = resp.get_data(as_text=True)
                seen += 1
                assert resp.status_code < 500, f"GET {url}{query} -> {resp.status_code}"
                found = [name for name, value in secrets.items() if value in body]
                if found:
                    leaks.append(f"GET {url}{query} ({resp.status_code}) shows B's {found}")
                own_seen.update(name for name, value in a.texts.items() if value in body)
    assert not leaks, "another organisation's data in a response:\n" + "\n".join(leaks)
    # Control: the walk saw A's own data in the same places, so the absence of B's meant something.
    for name in ("incident_title", "system_name", "lead_name", "ministry_reference", "webhook_url",
                 "webhook_description", "rule_label_en", "workflow_label_en", "comment_triage"):
        assert name in own_seen, f"A's own {name} appeared nowhere: the walk did not reach that data"
    assert seen > 200


def test_search_for_another_organisations_words_finds_nothing(app, client, auth, two_worlds):
    """Search (web and API) by every word of B's title and system name: nothing comes back."""
    a, b = two_worlds
    auth.login(a.admin.email)
    bearer = {"Authorization": f"Bearer {a.api_token}"}
    for q in (b.texts["incident_title"], "SECRET", "BETA", b.texts["system_name"], "incident_title", "報告"):
        api = client.get("/api/v1/incidents", query_string={"q": q}, headers=bearer).get_json()
        assert all(i["title"] == a.texts["incident_title"] for i in api["items"]), q
        assert all("BETA" not in str(i) for i in api["items"]), q
        page = client.get("/incidents", query_string={"q": q}).get_data(as_text=True)
        assert b.texts["incident_description"] not in page and b.texts["lead_name"] not in page
    # A's own title is found (the search works).
    api = client.get("/api/v1/incidents", query_string={"q": a.texts["incident_title"]}, headers=bearer).get_json()
    assert [i["title"] for i in api["items"]] == [a.texts["incident_title"]]


def test_a_logged_in_session_of_b_sees_only_b(app, client, auth, two_worlds):
    """The same walk from B's side (a smaller one): B's admin sees B's data, never A's."""
    a, b = two_worlds
    with app.app_context():
        assert orgs.find_user_by_email(b.admin.email) is not None
    auth.login(b.admin.email)
    for path in ("/incidents", "/dashboard", "/queue", "/escalations", "/admin/ledger", "/admin/users",
                 "/incidents/export.csv", "/incidents/export.json"):
        resp = client.get(path)
        body = resp.get_data(as_text=True)
        assert resp.status_code == 200, path
        assert a.texts["incident_title"] not in body and a.texts["system_name"] not in body, path
