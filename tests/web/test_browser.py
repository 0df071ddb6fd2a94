"""Real pages in Chromium (Playwright): log in, file an incident in Japanese, see it listed;
an invalid form shows errors beside the fields and keeps the input. Screenshots go to
test-artifacts/ for people to look at."""
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.web.conftest import local_input

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"



@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (cookies) per test, with Japanese as the browser language."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(base_url=live_server, locale="ja-JP", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


def shot(page, name):
    """Save a full-page screenshot under test-artifacts/."""
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def login(page, email):
    """Sign in through the form."""
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form[action^='/login'] button[type=submit]")
    page.wait_for_url("**/incidents")


def _times(hours_ago_occurred, hours_ago_aware):
    now = datetime.now(timezone.utc)
    return local_input(now - timedelta(hours=hours_ago_occurred)), local_input(now - timedelta(hours=hours_ago_aware))


def test_file_an_incident_in_japanese_and_see_it_listed(page, factory, web):
    org = factory.org(name="株式会社サンプル")
    user = factory.user(org, "reporter", name="山田 太郎")
    web.org, web.user = org, factory.user(org, "lead")
    web.system(name="顧客対応チャットボット")
    login(page, user.email)
    assert page.locator("html").get_attribute("lang") == "ja"
    page.click("text=インシデントを報告")
    page.wait_for_url("**/incidents/new")
    occurred, aware = _times(6, 2)
    page.fill("#title", "チャットボットが別の顧客の注文履歴を表示した")
    page.fill("#description", "サポート用チャットボットが、問い合わせた顧客に別の顧客の注文内容を回答した。")
    page.select_option("#severity", "sev2")
    page.fill("#occurred_at", occurred)
    page.fill("#aware_at", aware)
    page.select_option("#ai_system_id", label="顧客対応チャットボット")
    page.check("input[name=harm_types][value=privacy]")
    page.check("input[name=jurisdictions][value=JP]")
    page.check("#personal_data")
    shot(page, "ja-incident-form-filled")
    page.click("button:has-text('報告する')")
    page.wait_for_url("**/incidents/*")
    assert "チャットボットが別の顧客の注文履歴を表示した" in page.inner_text("h1")
    assert "プライバシー・個人情報" in page.inner_text("main")
    assert "個人情報保護委員会への速報" in page.inner_text("main")  # the APPI deadline, labelled in Japanese
    shot(page, "ja-incident-detail")
    page.click("nav >> text=インシデント")
    page.wait_for_url("**/incidents")
    row = page.locator("table.incidents tbody tr").first
    assert "チャットボットが別の顧客の注文履歴を表示した" in row.inner_text()
    assert "AI-0001" in row.inner_text() and "顧客対応チャットボット" in row.inner_text()
    shot(page, "ja-incident-list")
    # The same pages in English, through the language switch.
    page.click("button:has-text('English')")
    page.wait_for_url("**/incidents")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "SEV2 - major" in page.inner_text("table.incidents")
    shot(page, "en-incident-list")
    page.click("table.incidents a:has-text('AI-0001')")
    page.wait_for_url("**/incidents/*")
    assert "appi-preliminary" in page.inner_text("main")  # JP + personal data
    shot(page, "en-incident-detail")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/incidents")
    shot(page, "en-incident-list-narrow")


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_invalid_form_shows_errors_beside_fields_and_keeps_input(page, factory, lang):
    org = factory.org()
    user = factory.user(org, "reporter", locale=lang)
    login(page, user.email)
    page.goto("/incidents/new")
    occurred, aware = _times(1, 5)  # aware before occurred
    description = "説明文は保持されること。The description must survive the error."
    page.fill("#description", description)
    page.select_option("#severity", "sev1")
    page.fill("#occurred_at", occurred)
    page.fill("#aware_at", aware)
    page.check("input[name=harm_types][value=discrimination]")
    page.check("input[name=principles][value=fairness]")
    page.check("#serious_incident")
    page.click("form.incident-form button[type=submit]")
    page.wait_for_load_state()
    title_error = page.locator("#title-error")
    aware_error = page.locator("#aware_at-error")
    expected = {"ja": ("必須項目です。", "発生日時以降の日時にしてください。"),
                "en": ("Required.", "Must be at or after the time it occurred.")}[lang]
    assert title_error.inner_text() == expected[0]
    assert aware_error.inner_text() == expected[1]
    # Beside the field: the error sits in the same field block as its input, which points to it.
    assert page.locator(".field-title #title-error").count() == 1
    assert page.get_attribute("#title", "aria-invalid") == "true"
    assert "title-error" in page.get_attribute("#title", "aria-describedby")
    assert page.locator(".field-aware_at #aware_at-error").count() == 1
    # Everything typed is kept.
    assert page.input_value("#description") == description
    assert page.input_value("#severity") == "sev1"
    assert page.input_value("#occurred_at") == occurred
    assert page.input_value("#aware_at") == aware
    assert page.is_checked("input[name=harm_types][value=discrimination]")
    assert page.is_checked("input[name=principles][value=fairness]")
    assert page.is_checked("#serious_incident")
    assert not page.is_checked("input[name=harm_types][value=privacy]")
    shot(page, f"{lang}-incident-form-errors")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / f"{lang}-incident-form-errors-narrow.png"), full_page=False)
