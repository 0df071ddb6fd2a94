"""The dashboard in Chromium (Playwright), in Japanese and in English: the charts are there with
their titles; screenshots go to test-artifacts/ for people to look at."""
from pathlib import Path

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHARTS = 10  # nine figures and the escalations by level



@pytest.mark.parametrize("lang", ["ja", "en"])
def test_dashboard_charts_in_both_languages(browser, live_server, plan, lang):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(base_url=live_server, locale="ja-JP" if lang == "ja" else "en-US",
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto("/login")
        page.fill("#email", plan.admin.email)
        page.fill("#password", PASSWORD)
        page.click("form[action^='/login'] button[type=submit]")
        page.wait_for_url("**/incidents")
        page.click("nav a[href='/dashboard']")
        page.wait_for_url("**/dashboard")
        assert page.locator("html").get_attribute("lang") == lang
        charts = page.locator("svg[role=img]")
        assert charts.count() == CHARTS
        for i in range(CHARTS):
            chart = charts.nth(i)
            title = chart.locator(":scope > title").text_content()
            assert title and chart.get_attribute("aria-label") == title
            assert chart.bounding_box()["width"] > 300
        severity_title = page.locator("#chart-open_by_severity > title").text_content()
        assert severity_title == ("Open incidents by severity" if lang == "en" else severity_title)
        bars = page.locator("#chart-open_by_severity a.bar-link")
        assert bars.count() == 4
        # Countdowns are refreshed by countdown.js (no CSP violation in the console).
        assert page.locator("time.countdown").count() >= 3
        page.locator("#section-by_ai_system details.table-view summary").click()
        assert page.locator("#section-by_ai_system table").is_visible()
        page.screenshot(path=str(ARTIFACTS / f"{lang}-dashboard.png"), full_page=True)
        for section in ("trends", "response_targets", "by_ai_system"):
            page.locator(f"#section-{section}").screenshot(path=str(ARTIFACTS / f"{lang}-dashboard-{section}.png"))
        assert not [e for e in errors if "Content Security Policy" in e], errors
        # A bar leads to the incidents behind it.
        bars.first.click()
        page.wait_for_url("**/incidents?severity=sev1&open=1")
    finally:
        context.close()
