"""The dashboard page, its CSV downloads and GET /api/v1/metrics: roles, figures, links, columns."""
import csv
import io
import re

import pytest

from app.dashboard import service as dashboard
from tests.conftest import PASSWORD


def _login(client, auth, user):
    response = auth.login(user.email, PASSWORD)
    assert response.status_code == 302


@pytest.mark.parametrize("role", ["reporter", "responder", "lead"])
def test_page_and_csv_are_forbidden_to_other_roles(web, role):
    """Reporters, responders and leads get 403 on the page and the CSV downloads."""
    web.login_as(role)
    assert web.client.get("/dashboard").status_code == 403
    assert web.client.get("/dashboard/open_by_severity.csv").status_code == 403


def test_page_needs_login(client):
    assert client.get("/dashboard").status_code in (302, 401)


@pytest.mark.parametrize("role", ["executive", "admin"])
def test_page_for_executives_and_admins(client, auth, plan, role):
    user = plan.executive if role == "executive" else plan.admin
    _login(client, auth, user)
    html = client.get("/dashboard?days=90").get_data(as_text=True)
    assert html.count('role="img"') == 10  # with the escalations by level
    assert 'href="/dashboard"' in html  # the nav link
    assert 'style="' not in html  # the CSP forbids inline styles
    # KPI tiles link to the incidents behind them.
    assert 'href="/incidents?severity=sev1&amp;open=1"' in html
    assert 'href="/incidents?overdue=1"' in html
    assert "サポートチャットボット" in html and "METI-2026-01" in html
    assert 'class="countdown' in html and "countdown.js" in html


def test_page_in_both_languages(client, auth, plan):
    _login(client, auth, plan.admin)  # no saved language: Accept-Language decides
    en = client.get("/dashboard", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en"' in en and "SEV1 - critical" in en and "Open incidents by severity" in en
    ja = client.get("/dashboard", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert '<html lang="ja"' in ja and "封じ込め" in ja  # the workflow's Japanese state label


def test_period_choice_and_bad_period(client, auth, plan):
    _login(client, auth, plan.executive)
    html = client.get("/dashboard?days=30").get_data(as_text=True)
    assert re.search(r'href="/dashboard\?days=30"[^>]*aria-current="true"', html)
    response = client.get("/dashboard?since=2026-05-01&until=2026-04-01")
    assert response.status_code == 200
    assert 'class="field-error"' in response.get_data(as_text=True)


def test_csv_downloads(client, auth, plan):
    _login(client, auth, plan.admin)  # no saved language: Accept-Language decides
    m = None
    from app.orgs import service as orgs
    from app.tenancy import scoped
    with plan.app.app_context(), scoped(plan.org.id):
        m = dashboard.metrics(actor=orgs.get_user(plan.executive.id))
    expected_columns = {
        "open_by_severity": 3, "open_by_state": 3, "overdue_deadlines": 6, "due_next_7_days": 6, "trends": 7,
        "by_ai_system": 3, "by_harm_type": 3, "by_principle": 3, "by_actor_role": 3, "by_jurisdiction": 3,
        "response_targets": 4, "ministry_requests": 5,
    }
    for name, width in expected_columns.items():
        response = client.get(f"/dashboard/{name}.csv?days=90", headers={"Accept-Language": "en"})
        assert response.status_code == 200, name
        assert response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        raw = response.get_data()
        assert raw.startswith(b"\xef\xbb\xbf"), name
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        assert all(len(r) == width for r in rows), name
        header, body = rows[0], rows[1:]
        if name == "open_by_severity":
            assert header == ["Code", "Severity", "Open incidents"]
            assert {r[0]: int(r[2]) for r in body} == m["open_by_severity"]
        if name == "by_ai_system":
            assert header == ["AI system", "Actor role", "Incidents"]
            assert ["サポートチャットボット", "AI provider", "3"] in body
        if name == "trends":
            assert len(body) == 12
        if name == "overdue_deadlines":
            assert len(body) == min(10, m["overdue_deadlines"]["count"])
    assert client.get("/dashboard/nothing.csv").status_code == 404


def test_metrics_api(client, plan, factory):
    token = factory.token(plan.executive)
    response = client.get("/api/v1/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.get_json()
    for key in ("open_by_severity", "open_by_state", "overdue_deadlines", "mtta_seconds", "mttr_seconds"):
        assert key in body
    assert body["open_by_severity"] == {"sev1": 1, "sev2": 1, "sev3": 1, "sev4": 1}
    assert body["mttr_seconds"] == pytest.approx(66 * 3600, abs=0.01)
    response = client.get("/api/v1/metrics?since=2026-05-01&until=2026-04-01",
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422
    response = client.get("/api/v1/metrics?since=notadate", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422


@pytest.mark.parametrize("role,status", [("reporter", 403), ("responder", 200), ("lead", 200), ("admin", 200)])
def test_metrics_api_roles(client, plan, factory, role, status):
    user = factory.user(plan.org, role)
    response = client.get("/api/v1/metrics", headers={"Authorization": f"Bearer {factory.token(user)}"})
    assert response.status_code == status
    if status == 403:
        assert response.get_json()["error"]["code"]
    else:
        assert response.get_json()["open_total"] == 4


def test_metrics_api_needs_a_token(client):
    assert client.get("/api/v1/metrics").status_code == 401


def test_metrics_in_openapi(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/metrics" in spec["paths"] or "/metrics" in spec["paths"]
