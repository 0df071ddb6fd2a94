"""Stored and reflected XSS: payloads in every text field a person can fill, every page opened in Chromium.

Every free-text field is filled through the services with a payload (``<script>``, a broken-out
attribute with ``onerror``, ``</textarea><svg onload>``, ``javascript:`` URLs, ``{{7*7}}`` for
template injection, Japanese text around it): the organisation's name, people's names, API token
names, AI systems (every text field), incidents (title, description), transition comments and
transition fields, ministry requests, the organisation's own workflow (labels edited in its YAML),
deadline rules (labels, description, source), webhook descriptions, report packs, escalations and
their notifications (see tests/security/_world.py). Search queries and other query parameters
carry the payload too, and the login is asked to go ``next=javascript:...``.

Then every GET page of the web blueprint, listed from ``app.url_map`` (so a new page is swept the
day it is added; a route argument the sweep cannot fill fails the test), is opened in Chromium in
Japanese and in English **with the Content-Security-Policy bypassed**, so only the escaping of the
output can stop a payload: no script may run (``window.__xss`` stays undefined, no dialog opens),
no element may carry a payload's event handler, no link may point at ``javascript:``, and the
payload text is visible, escaped, where the page shows that field. Answers that are not HTML
(CSV, JSON, AIID exports, downloads) are not rendered; their raw bytes are checked by
test_isolation_listing and the exports' own tests.
"""
import re
from urllib.parse import quote

import pytest

from tests.conftest import PASSWORD
from tests.security import _world

pytestmark = pytest.mark.browser

_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

LONG = ('<script>window.__xss=1</script>"><img src=x onerror="window.__xss=1">'
        "'><svg onload=window.__xss=1></textarea><svg onload=window.__xss=1>"
        "{{7*7}} javascript:window.__xss=1 個人情報の漏えい")
SHORT = '<script>window.__xss=1</script>"><img src=x onerror="window.__xss=1">{{7*7}}漏えい'
# Markup that must never reach a page unescaped (the raw HTML is checked too).
RAW_MARKERS = ("<script>window.__xss", "<img src=x onerror", "<svg onload=window.__xss")


def payload(name, limit):
    """A short tag naming the field, then as much of the payload as the field takes."""
    tag = f"[{name}] "
    text = tag + (LONG if len(tag) + len(LONG) <= limit else SHORT)
    return text[:limit]


# URL argument -> the kind of object of the world (ids) or the values to try.
ID_FILL = {"incident_id": "incident", "system_id": "system", "user_id": "user", "token_id": "token",
           "request_id": "request", "rule_id": "org_rule", "workflow_id": "workflow", "job_id": "report_job",
           "webhook_id": "webhook", "escalation_id": "escalation"}

# Where a field's text must be visible (escaped) on the page: endpoint -> field names.
VISIBLE = {
    "web.incidents_list": ["incident_title"],
    "web.incident_detail": ["incident_title", "incident_description", "system_name"],
    "web.incident_timeline": ["comment_triage", "field_triage_notes", "field_reported_to", "field_executive_summary"],
    "web.incident_edit": ["incident_title"],
    "web.queue_page": ["incident_title"],
    "web.escalations_page": ["incident_title"],
    "web.systems_list": ["system_name"],
    "web.system_detail": ["system_name", "system_purpose", "system_training_sources", "system_deployment_context"],
    "web.ministry_requests_list": ["ministry_reference"],
    "web.ministry_request_detail": ["ministry_reference", "ministry_requested_actions", "ministry_other"],
    "web.admin_users": ["lead_name", "invited_name"],
    "web.tokens": ["token_name"],
    "web.webhooks_page": ["webhook_description"],
    "web.admin_rules": ["rule_label_{lang}", "rule_source"],
    "web.admin_workflows": ["workflow_label_{lang}"],
    "web.report_pack_page": ["incident_title", "incident_description"],
    "web.account": ["admin_name"],
}

# Reflected input: query parameters carrying the payload on pages that read them.
REFLECTED = ["/incidents?q={p}", "/incidents?q={p}&state={p}&severity={p}", "/queue?q={p}", "/queue?tab={p}",
             "/dashboard?since={p}&until={p}", "/dashboard?days={p}", "/ministry-requests?status={p}",
             "/incidents/{incident}/report-pack?lang={p}", "/incidents?cursor={p}"]

DOM_CHECK = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      const n = a.name.toLowerCase(), v = (a.value || '').toLowerCase();
      if (n.startsWith('on') && v.includes('__xss')) bad.push(`${el.tagName} ${n}=${a.value}`);
      if ((n === 'href' || n === 'src' || n === 'action' || n === 'formaction') && v.trim().startsWith('javascript:'))
        bad.push(`${el.tagName} ${n}=${a.value}`);
    }
    if (el.tagName === 'SCRIPT' && (el.textContent || '').includes('__xss')) bad.push('inline SCRIPT ' + el.textContent);
  }
  return {xss: typeof window.__xss !== 'undefined', bad};
}"""



def _page_urls(app, world):
    """(endpoint, url) for every GET route of the web blueprint, its arguments filled from the world."""
    from app.web.dashboard import TABLES
    from app.workflow import loader

    with app.app_context():
        shipped = sorted(loader.shipped())
    values = {"name": {"web.dashboard_csv": sorted(TABLES)[:1], "web.admin_workflow_shipped": shipped},
              "token": {"web.escalation_ack_link": [world.ack_token], "web.accept_invite": [world.invite_token]}}
    urls, unknown = [], []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith("web.") or "GET" not in (rule.methods or ()):
            continue
        found = [rule.rule]
        for arg in rule.arguments:
            if arg in ID_FILL:
                options = [str(world.ids[ID_FILL[arg]])]
            else:
                options = (values.get(arg) or {}).get(rule.endpoint)
            if not options:
                unknown.append(f"{rule.rule} ({rule.endpoint}): <{arg}>")
                break
            found = [_ARG.sub(lambda m, v=v, a=arg: v if m.group(1) == a else m.group(0), u)
                     for u in found for v in options]
        else:
            urls += [(rule.endpoint, u) for u in found]
    assert not unknown, f"pages whose arguments the XSS sweep cannot fill (teach _page_urls): {unknown}"
    return urls


def _html_pages(client, urls):
    """The pages that answer HTML (exports and downloads are not rendered), checked raw on the way."""
    html, raw_failures = [], []
    for endpoint, url in urls:
        resp = client.get(url)
        body = resp.get_data(as_text=True)
        if "text/html" not in (resp.content_type or ""):
            continue
        assert resp.status_code < 500, f"{url} -> {resp.status_code}"
        found = [m for m in RAW_MARKERS if m in body]
        if found:
            raw_failures.append(f"{url}: unescaped {found}")
        if resp.status_code == 200:
            html.append((endpoint, url))
    assert not raw_failures, "payload markup in the raw HTML:\n" + "\n".join(raw_failures)
    return html


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_no_payload_runs_on_any_page(app, client, auth, browser, live_server, lang):
    world = _world.build(app, slug=f"xss{lang}", text=payload, locale=lang)
    auth.login(world.admin.email)
    pages = _html_pages(client, _page_urls(app, world))
    endpoints = {e for e, _ in pages}
    for expected in ("web.incidents_list", "web.incident_detail", "web.incident_timeline", "web.queue_page",
                     "web.dashboard_page", "web.systems_list", "web.ministry_request_detail", "web.admin_users",
                     "web.admin_workflow", "web.admin_rules", "web.webhooks_page", "web.escalations_page",
                     "web.notifications_page", "web.report_pack_page", "web.admin_ledger", "web.tokens"):
        assert expected in endpoints, f"{expected} was not swept"
    p = quote(LONG, safe="")
    reflected = [("reflected", u.format(p=p, incident=world.ids["incident"])) for u in REFLECTED]
    pages += [("reflected", u) for _, u in _html_pages(client, reflected)]

    context = browser.new_context(base_url=live_server, locale="ja-JP" if lang == "ja" else "en-US",
                                  bypass_csp=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    dialogs, failures = [], []
    page.on("dialog", lambda d: (dialogs.append(f"{page.url}: {d.message}"), d.dismiss()))
    try:
        # Login refuses to go to a javascript: URL afterwards.
        page.goto("/login?next=" + quote("javascript:window.__xss=1", safe=""))
        page.fill("#email", world.admin.email)
        page.fill("#password", PASSWORD)
        page.click("form[action^='/login'] button[type=submit]")
        page.wait_for_url("**/incidents")
        for endpoint, url in pages:
            page.goto(url, wait_until="load")
            result = page.evaluate(DOM_CHECK)
            if result["xss"] or result["bad"]:
                failures.append(f"{url}: ran={result['xss']} {result['bad'][:3]}")
            text = page.inner_text("body")
            if "{{7*7}}" not in text and "49漏えい" in text:
                failures.append(f"{url}: a template evaluated {{{{7*7}}}}")
            for field in VISIBLE.get(endpoint, ()):
                expected = world.texts[field.format(lang=lang)]
                if expected not in text:
                    failures.append(f"{url}: {field.format(lang=lang)} is not shown as text")
            if world.texts["org_name"] not in text:  # the layout's header shows the organisation's name
                failures.append(f"{url}: org_name is not shown as text")
    finally:
        context.close()
    assert not dialogs, f"a payload opened a dialog: {dialogs}"
    assert not failures, f"[{lang}] XSS sweep of {len(pages)} pages:\n" + "\n".join(failures)
