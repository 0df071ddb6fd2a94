"""In Chromium: a lead opens an incident's report pack, starts a job and sees it finish."""

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser



@pytest.fixture(scope="module")
def live_server(app):
    """The app served on 127.0.0.1 in a daemon thread (as tests/web/conftest.py)."""
    import socket
    import threading

    from werkzeug.serving import make_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=5)



def test_lead_builds_a_report_pack_job(browser, live_server, pack_org):
    context = browser.new_context(base_url=live_server, locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto("/login")
        page.fill("#email", pack_org.lead.email)
        page.fill("#password", PASSWORD)
        page.click("form[action^='/login'] button[type=submit]")
        page.wait_for_url("**/incidents")

        page.goto(f"/incidents/{pack_org.worked}/report-pack?lang=en")
        assert page.locator("h1").inner_text().startswith("Report pack")
        assert page.locator("h2", has_text="Post-incident review findings").count() == 1
        page.select_option(".pack-job-form select[name=format]", "csv")
        page.click(".pack-job-form button[type=submit]")
        page.wait_for_url("**/report-jobs/*")
        page.wait_for_selector("a.download-link", timeout=20_000)  # the page refreshes until done
        assert page.locator("[data-status=done]").count() == 1
        assert page.locator("progress").get_attribute("value") == page.locator("progress").get_attribute("max")
        page.screenshot(path="/tmp/pack.png", full_page=True)

        page.goto(f"/incidents/{pack_org.worked}/report-pack?lang=ja")
        page.screenshot(path="/tmp/pack-page.png", full_page=False)
    finally:
        context.close()
