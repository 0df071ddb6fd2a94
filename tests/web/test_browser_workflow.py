"""Workflow pages: transition forms on the incident page (errors beside the fields, input
kept, stale versions), the timeline page in Japanese and English, and, in Chromium, a lead
taking a new incident through the default workflow to closed."""
import re
from pathlib import Path

import pytest

from tests.conftest import PASSWORD

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _detail(web, incident_id):
    return web.client.get(f"/incidents/{incident_id}").get_data(as_text=True)


def _version(html):
    return int(re.search(r'name="version" value="(\d+)"', html).group(1))


def test_transition_buttons_and_taking_one(web):
    web.login_as("lead", locale="en")
    incident_id = web.incident(personal_data=False)
    html = _detail(web, incident_id)
    assert '<details class="transition" id="t-start_triage"' in html
    assert "Start triage → Triage" in html and "Close without action → Closed" in html
    assert 'action="/incidents/%d/transitions"' % incident_id in html
    assert '<input type="hidden" name="transition" value="start_triage">' in html
    resp = web.post(f"/incidents/{incident_id}/transitions", {
        "transition": "start_triage", "version": _version(html), "t-start_triage-triage_notes": "First look",
        "comment": "Taking it"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/incidents/{incident_id}")
    html = _detail(web, incident_id)
    assert "State: <strong>Triage</strong>" in html
    assert "Reported → Triage" in html and "Taking it" in html
    assert "the default workflow" in html  # why jp-ai-incident was chosen


def test_a_rejected_form_comes_back_open_with_errors_and_input(web):
    web.login_as("responder", locale="en")
    incident_id = web.incident(personal_data=False)
    version = _version(_detail(web, incident_id))
    resp = web.post(f"/incidents/{incident_id}/transitions", {"transition": "start_triage", "version": version})
    assert resp.status_code == 302
    resp = web.post(f"/incidents/{incident_id}/transitions", {
        "transition": "contain", "version": version + 1, "t-contain-system_suspended": "y", "comment": "Keep me"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert '<details class="transition" id="t-contain" open' in html
    assert re.search(r'<small id="t-contain-containment_actions-error" class="field-error">Required.</small>', html)
    assert 'aria-invalid="true"' in html
    assert re.search(r'id="t-contain-system_suspended" name="t-contain-system_suspended" value="y" checked', html)
    assert ">Keep me</textarea>" in html
    # A stale version: 409, a clear message, the input kept, the form now carries the current version.
    resp = web.post(f"/incidents/{incident_id}/transitions", {
        "transition": "contain", "version": version, "t-contain-containment_actions": "Bot paused"})
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "Someone else changed this incident" in html
    assert ">Bot paused</textarea>" in html
    assert f'name="version" value="{version + 1}"' in html


def test_a_role_that_may_not_gets_403(web):
    web.login_as("responder", locale="en")
    incident_id = web.incident(personal_data=False)
    html = _detail(web, incident_id)
    assert "t-dismiss" not in html  # leads and admins only
    resp = web.post(f"/incidents/{incident_id}/transitions", {"transition": "dismiss", "version": _version(html)})
    assert resp.status_code == 403


@pytest.mark.parametrize("locale, expected", [
    ("en", ("Timeline", "Reported → Triage", "First assessment", "Scoping the leak")),
    ("ja", ("タイムライン", "報告済み → トリアージ", "初期評価", "Scoping the leak")),
])
def test_timeline_page_in_both_languages(web, locale, expected):
    web.login_as("lead", locale=locale)
    incident_id = web.incident(personal_data=False)
    version = _version(_detail(web, incident_id))
    web.post(f"/incidents/{incident_id}/transitions", {
        "transition": "start_triage", "version": version, "t-start_triage-triage_notes": "Scoping the leak",
        "comment": "Mine"})
    resp = web.client.get(f"/incidents/{incident_id}/timeline")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    for text in expected:
        assert text in html, text
    assert web.user.name in html and "JST" in html


def test_timeline_of_another_organisations_incident_is_404(web, factory):
    web.login_as("lead")
    incident_id = web.incident()
    web.auth.logout()
    web.login_as("lead")  # a new organisation
    assert web.client.get(f"/incidents/{incident_id}/timeline").status_code == 404
    assert web.post(f"/incidents/{incident_id}/transitions", {"transition": "start_triage", "version": 1}).status_code == 404


def test_evidence_hold_banner_on_the_incident_and_the_system(web):
    web.login_as("lead", locale="en")
    system_id = web.system(name="Credit scoring model")
    incident_id = web.incident(jurisdictions=["EU"], serious_incident=True, personal_data=False,
                               ai_system_id=system_id)
    banner = "Evidence hold: do not change"
    assert banner not in _detail(web, incident_id)
    html = _detail(web, incident_id)
    resp = web.post(f"/incidents/{incident_id}/transitions", {"transition": "place_evidence_hold",
        "version": _version(html), "t-place_evidence_hold-preserved_items": ["logs", "model_version"],
        "t-place_evidence_hold-hold_note": "Snapshot kept by the CISO"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert banner in _detail(web, incident_id)
    system_page = web.client.get(f"/systems/{system_id}").get_data(as_text=True)
    assert banner in system_page and f'href="/incidents/{incident_id}"' in system_page
    timeline = web.client.get(f"/incidents/{incident_id}/timeline").get_data(as_text=True)
    assert "Logs (Art. 12), Model version and weights" in timeline
    html = _detail(web, incident_id)
    resp = web.post(f"/incidents/{incident_id}/transitions", {"transition": "submit_initial_report",
        "version": _version(html), "t-submit_initial_report-market_surveillance_authority": "BNetzA",
        "t-submit_initial_report-member_state": "DE", "t-submit_initial_report-submitted_at": "2026-01-05T09:00",
        "t-submit_initial_report-causal_link": "established",
        "t-submit_initial_report-report_summary": "Wrong credit decisions"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert banner not in _detail(web, incident_id)
    assert banner not in web.client.get(f"/systems/{system_id}").get_data(as_text=True)


# ------------------------------------------------------------------------------ Chromium


# The default workflow's path for a SEV2 incident, with what each form asks for (ja labels).
PATH = [
    ("start_triage", "トリアージ", {"triage_notes": "別の顧客の注文履歴が表示された。影響範囲を確認中。"}),
    ("contain", "封じ込め", {"containment_actions": "チャットボットを停止し、前バージョンに切り戻した。",
                            "system_suspended": True}),
    ("start_investigation", "調査", {}),
    ("report_to_executives", "経営層への報告", {"reported_to": "CAIO・AIガバナンス委員会",
                                              "executive_summary": "約120件の誤回答。個人データは含まれない。"}),
    ("plan_remediation", "是正", {"remediation_plan": "検索インデックスの再構築と回答前チェックの追加。"}),
    ("start_review", "事後レビュー", {"remediation_summary": "インデックスを再構築し、チェックを追加した。"}),
    ("close", "完了", {"root_cause": "古い検索インデックス", "corrective_actions": "インデックス再構築",
                      "recurrence_prevention": "夜間の整合性チェック", "information_shared": "影響を受けた顧客へ連絡"}),
]



@pytest.fixture
def page(browser, live_server):
    """A fresh browser context per test, in Japanese."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(base_url=live_server, locale="ja-JP", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.mark.browser
def test_a_lead_takes_an_incident_through_the_default_workflow_to_closed(page, web, factory):
    org = factory.org(name="株式会社サンプル")
    web.org, web.user = org, factory.user(org, "lead", name="佐藤 花子")
    incident_id = web.incident(title="チャットボットが別の顧客の注文履歴を表示した", personal_data=False)
    page.goto("/login")
    page.fill("#email", web.user.email)
    page.fill("#password", PASSWORD)
    page.click("form[action^='/login'] button[type=submit]")
    page.wait_for_url("**/incidents")
    page.goto(f"/incidents/{incident_id}")
    assert "報告済み" in page.inner_text(".summary-bar")
    # A required field left empty: the form comes back open, the error beside the field.
    page.click("#t-start_triage summary")
    page.click("#t-start_triage button[type=submit]")
    page.wait_for_load_state()
    page.click("#t-contain summary")
    page.check("#t-contain-system_suspended")
    page.fill("#t-contain-comment", "入力は保持されること")
    page.click("#t-contain button[type=submit]")
    page.wait_for_load_state()
    assert page.inner_text("#t-contain-containment_actions-error") == "必須項目です。"
    assert page.is_checked("#t-contain-system_suspended")
    assert page.input_value("#t-contain-comment") == "入力は保持されること"
    page.screenshot(path=str(ARTIFACTS / "ja-transition-form-errors.png"), full_page=True)
    for name, state, values in PATH[1:]:
        details = page.locator(f"#t-{name}")
        if details.get_attribute("open") is None:
            page.click(f"#t-{name} summary")
        for field, value in values.items():
            if value is True:
                page.check(f"#t-{name}-{field}")
            else:
                page.fill(f"#t-{name}-{field}", value)
        if name == "close":
            page.screenshot(path=str(ARTIFACTS / "ja-transition-close-form.png"), full_page=True)
        page.click(f"#t-{name} button[type=submit]")
        page.wait_for_url(f"**/incidents/{incident_id}")
        assert state in page.inner_text(".summary-bar"), (name, page.inner_text("main")[:500])
    assert "完了" in page.inner_text(".summary-bar")
    assert page.locator("#t-reopen").count() == 1 and page.locator("details.transition").count() == 1
    page.screenshot(path=str(ARTIFACTS / "ja-incident-closed.png"), full_page=True)
    page.click(f"a[href='/incidents/{incident_id}/timeline']")
    page.wait_for_url(f"**/incidents/{incident_id}/timeline")
    text = page.inner_text("main")
    assert "事後レビュー → 完了" in text and "夜間の整合性チェック" in text and "佐藤 花子" in text
    page.screenshot(path=str(ARTIFACTS / "ja-incident-timeline.png"), full_page=True)
