"""Admin pages for workflows: list, view with the SVG diagram, copy, edit with errors, history."""
import re

import pytest

from app.tenancy import scoped
from app.workflow import service as workflows


@pytest.fixture
def org(factory):
    """An organisation with an admin and a lead."""
    org = factory.org("acme", default_locale="en")
    org.admin = factory.user(org, "admin", email="admin@acme.example.jp", locale="en")
    org.lead = factory.user(org, "lead", email="lead@acme.example.jp", locale="en")
    return org


def _csrf(html):
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def test_a_lead_gets_403(client, auth, org):
    auth.login(org.lead.email)
    for path in ("/admin/workflows", "/admin/workflows/shipped/jp-ai-incident"):
        assert client.get(path).status_code == 403


def test_list_and_view_a_shipped_workflow(client, auth, org):
    auth.login(org.admin.email)
    html = client.get("/admin/workflows").get_data(as_text=True)
    for name in ("jp-ai-incident", "appi-personal-data", "eu-ai-act-serious-incident", "near-miss"):
        assert f"/admin/workflows/shipped/{name}" in html
    assert "Default: incidents no other workflow applies to" in html
    assert "is in the EU; is a serious incident" in html
    resp = client.get("/admin/workflows/shipped/eu-ai-act-serious-incident")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "<svg" in page and 'data-state="evidence_hold"' in page and "</svg>" in page
    assert "style=" not in page.split("<svg", 1)[1].split("</svg>", 1)[0]  # CSP: no inline style
    assert "Submit the initial report" in page and "id: eu-ai-act-serious-incident" in page
    assert client.get("/admin/workflows/shipped/unknown").status_code == 404


def test_copy_edit_with_errors_and_history(app, client, auth, org):
    auth.login(org.admin.email)
    page = client.get("/admin/workflows/shipped/near-miss").get_data(as_text=True)
    resp = client.post("/admin/workflows/shipped/near-miss/copy", data={"csrf_token": _csrf(page), "name": ""})
    assert resp.status_code == 302
    copy_url = resp.headers["Location"]
    row_id = int(copy_url.rsplit("/", 1)[1])
    view = client.get(copy_url).get_data(as_text=True)
    assert "Your copy, version 1" in view and "<svg" in view

    edit = client.get(f"/admin/workflows/{row_id}/edit").get_data(as_text=True)
    assert "id: near-miss" in edit
    with app.app_context(), scoped(org.id):
        text = workflows.get_org_workflow(row_id).yaml_text
    broken = text.replace("    to: review\n", "    to: reviw\n", 1) + "\n# my note\n"
    resp = client.post(f"/admin/workflows/{row_id}/edit", data={"csrf_token": _csrf(edit), "yaml_text": broken})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "transitions[0].to: unknown state &#39;reviw&#39;" in html
    assert "# my note" in html and "to: reviw" in html  # the text is kept

    fixed = text.replace("label: {en: Review, ja: レビュー}", "label: {en: Peer review, ja: ピアレビュー}", 1)
    resp = client.post(f"/admin/workflows/{row_id}/edit", data={"csrf_token": _csrf(edit), "yaml_text": fixed})
    assert resp.status_code == 302
    v2 = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Your copy, version 2" in v2 and "Peer review" in v2
    assert f'href="/admin/workflows/{row_id}"' in v2  # version 1 in the history
    listing = client.get("/admin/workflows").get_data(as_text=True)
    assert "Replaced by your copy" in listing


def test_japanese_labels(client, auth, factory):
    org = factory.org("nihon")
    admin = factory.user(org, "admin", email="admin@nihon.example.jp", locale="ja")
    auth.login(admin.email)
    page = client.get("/admin/workflows/shipped/jp-ai-incident").get_data(as_text=True)
    assert "行政との連携" in page and "経営層への報告" in page
