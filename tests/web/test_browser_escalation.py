"""Escalations in Chromium (Playwright): a lead opens an incident filed at SEV1, sees its
escalations, acknowledges one with the button and sees it acknowledged with their name, in
Japanese and in English. Screenshots: /tmp/esc-ja.png, /tmp/esc-en.png (and test-artifacts/)."""
import shutil
from pathlib import Path

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
EXPECTED = {
    "ja": {"level": "対応責任者", "name": "佐藤 花子",
           "title": "与信モデルが申込者の個人データを漏えいした"},
    "en": {"level": "Response lead", "name": "Hanako Sato", "title": "Credit model leaked applicants' personal data"},
}



@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_lead_acknowledges_a_sev1_escalation(browser, live_server, web, factory, lang):
    want = EXPECTED[lang]
    org = factory.org(name="株式会社サンプル" if lang == "ja" else "Sample KK")
    web.org = org
    web.user = factory.user(org, "lead", name=want["name"], locale=lang)
    factory.user(org, "executive", name="鈴木 一郎" if lang == "ja" else "Ichiro Suzuki")
    incident_id = web.incident(title=want["title"], severity="sev1", jurisdictions=["JP", "EU"],
                               personal_data=True)
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(base_url=live_server, locale="ja-JP" if lang == "ja" else "en-US",
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto("/login")
        page.fill("#email", web.user.email)
        page.fill("#password", PASSWORD)
        page.click("form[action^='/login'] button[type=submit]")
        page.wait_for_url("**/incidents")
        assert page.locator("html").get_attribute("lang") == lang
        # The header: the open escalations link and the unread badge (level 1 reached this lead).
        assert page.locator("nav a[href='/escalations']").count() == 1
        assert page.inner_text("#unread-badge").split()[0] == "1"
        page.goto(f"/incidents/{incident_id}")
        section = page.locator("#escalations")
        assert section.is_visible()
        items = section.locator("li.escalation")
        assert items.count() == 2  # SEV1: the response lead and the executives
        first = items.nth(0)
        assert want["level"] in first.inner_text()
        assert want["name"] in first.inner_text()  # a recipient
        page.screenshot(path=str(ARTIFACTS / f"esc-{lang}-before.png"), full_page=True)
        first.locator("form.ack-form button").click()
        page.wait_for_url(f"**/incidents/{incident_id}*")
        first = page.locator("#escalations li.escalation").nth(0)
        assert first.locator("form.ack-form").count() == 0
        acked = first.locator(".esc-acked").inner_text()
        assert want["name"] in acked
        assert "is-acked" in first.get_attribute("class")
        assert page.locator(".flash-success").count() == 1
        # The other escalation still waits for its level.
        assert page.locator("#escalations li.escalation").nth(1).locator("form.ack-form").count() == 1
        page.locator("#escalations").scroll_into_view_if_needed()
        shot = ARTIFACTS / f"esc-{lang}.png"
        page.screenshot(path=str(shot), full_page=True)
        shutil.copyfile(shot, f"/tmp/esc-{lang}.png")
        # The open escalations page no longer lists the acknowledged one.
        page.click("nav a[href='/escalations']")
        page.wait_for_url("**/escalations")
        assert page.locator("table.escalations-table tbody tr").count() == 1
        page.screenshot(path=str(ARTIFACTS / f"esc-list-{lang}.png"), full_page=True)
        page.click("nav a.notifications-link")
        page.wait_for_url("**/notifications")
        assert page.locator("li.notification.unread").count() == 1
        page.screenshot(path=str(ARTIFACTS / f"esc-notifications-{lang}.png"), full_page=True)
        assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
    finally:
        context.close()
