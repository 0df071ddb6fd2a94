"""Escalation pages: the incident page's escalations, acknowledging (button and e-mailed link),
the open escalations, notifications and the header badge, isolation, both languages."""
import re

import pytest
from sqlalchemy import select, update

from app.escalation import service as escalation
from app.escalation.models import Delivery, Escalation, Notification
from app.extensions import db
from app.tenancy import scoped
from tests.web.conftest import csrf_of, web  # noqa: F401,F811  (the web tests' fixture)


def _escalations(app, org_id, incident_id=None):
    """The organisation's escalations (detached), oldest first."""
    with app.app_context(), scoped(org_id):
        stmt = select(Escalation).order_by(Escalation.id)
        if incident_id is not None:
            stmt = stmt.where(Escalation.incident_id == incident_id)
        rows = db.session.execute(stmt).unique().scalars().all()
        out = [{"id": r.id, "level": r.level, "incident_id": r.incident_id, "acknowledged_at": r.acknowledged_at,
                "acknowledged_by_id": r.acknowledged_by_id} for r in rows]
        db.session.remove()
    return out


def _page(web, path):
    resp = web.client.get(path)
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


def _ack_form(html, escalation_id):
    return f'action="/escalations/{escalation_id}/acknowledge"' in html


def test_incident_page_lists_escalations_for_a_lead_and_not_a_reporter(web, factory):
    org = factory.org()
    lead = factory.user(org, "lead", locale="en", name="Lead Sato")
    web.login_as("reporter", org=org, locale="en")
    reporter = web.user
    incident_id = web.incident(severity="sev1")
    html = _page(web, f"/incidents/{incident_id}")
    assert 'id="escalations-h"' not in html and "Response lead" not in html
    assert "/escalations/" not in html
    web.auth.logout()
    web.user = lead
    assert web.auth.login(lead.email).status_code == 302
    rows = _escalations(web.app, org.id, incident_id)
    assert [r["level"] for r in rows] == [1, 3]
    html = _page(web, f"/incidents/{incident_id}")
    assert 'id="escalations-h"' in html
    assert "Response lead" in html and "Executives and the board" in html
    assert "Filed at severity" in html
    assert "Not acknowledged" in html
    for r in rows:
        assert _ack_form(html, r["id"])
    assert "In-app" in html and "Sent" in html
    assert reporter.name not in re.search(r'<section aria-labelledby="escalations-h".*?</section>', html, re.S).group(0)
    assert "Lead Sato" in html  # level 1's recipient (role lead)


def test_acknowledge_button_sets_who_and_when_and_a_second_changes_nothing(web):
    lead = web.login_as("lead", locale="en", name="Lead Tanaka")
    incident_id = web.incident(severity="sev1")
    first = _escalations(web.app, web.org.id, incident_id)[0]
    html = _page(web, f"/incidents/{incident_id}")
    assert _ack_form(html, first["id"])
    assert "Lead Tanaka" in html  # a recipient of level 1 (role lead)
    resp = web.post(f"/escalations/{first['id']}/acknowledge", {"next": f"/incidents/{incident_id}#escalations"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/incidents/{incident_id}#escalations")
    after = _escalations(web.app, web.org.id, incident_id)[0]
    assert after["acknowledged_at"] is not None and after["acknowledged_by_id"] == lead.id
    html = _page(web, f"/incidents/{incident_id}")
    assert "Escalation acknowledged: Response lead." in html  # the flash
    assert not _ack_form(html, first["id"])
    assert "Acknowledged by Lead Tanaka" in html
    # A second acknowledgement changes nothing.
    resp = web.post(f"/escalations/{first['id']}/acknowledge")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/incidents/{incident_id}")
    again = _escalations(web.app, web.org.id, incident_id)[0]
    assert again == after
    assert "already acknowledged by Lead Tanaka" in _page(web, f"/incidents/{incident_id}")


def test_a_reporter_may_not_acknowledge(web, factory):
    web.login_as("lead")
    incident_id = web.incident(severity="sev1")
    first = _escalations(web.app, web.org.id, incident_id)[0]
    web.auth.logout()
    web.login_as("reporter", org=web.org)
    assert web.post(f"/escalations/{first['id']}/acknowledge").status_code == 403
    assert web.client.get("/escalations").status_code == 403
    assert _escalations(web.app, web.org.id, incident_id)[0]["acknowledged_at"] is None


def test_delivery_failures_show_on_the_record(web):
    web.login_as("lead", locale="en")
    incident_id = web.incident(severity="sev1")
    first = _escalations(web.app, web.org.id, incident_id)[0]
    with web.app.app_context(), scoped(web.org.id):
        db.session.execute(update(Delivery).where(Delivery.escalation_id == first["id"], Delivery.channel == "email")
                           .values(status="failed", attempts=5, last_error="SMTP 550 mailbox unavailable"))
        db.session.commit()
    html = _page(web, f"/incidents/{incident_id}")
    assert "E-mail" in html and "Failed" in html and "SMTP 550 mailbox unavailable" in html
    assert "1 failed" in html


# ---------------------------------------------------------------- the e-mailed link


def _token(app, org_id, escalation_id, user_id):
    with app.app_context(), scoped(org_id):
        row = db.session.get(Escalation, escalation_id)
        token = escalation.ack_token(row, user_id)
        db.session.remove()
    return token


@pytest.fixture
def link(web, app):
    """A SEV1 incident's first escalation and an acknowledgement link for its lead (logged out)."""
    lead = web.login_as("lead", locale="en", name="Lead Mori")
    incident_id = web.incident(severity="sev1", title="Scoring model leaked applicant data")
    first = _escalations(app, web.org.id, incident_id)[0]
    web.auth.logout()
    return {"lead": lead, "incident_id": incident_id, "escalation": first,
            "token": _token(app, web.org.id, first["id"], lead.id), "org": web.org}


def test_ack_link_get_shows_one_button_and_does_not_acknowledge(app, link):
    client = app.test_client()
    resp = client.get(f"/escalations/ack/{link['token']}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "Scoring model leaked applicant data" in html and "AI-" in html
    assert "Response lead" in html and "Filed at severity" in html
    assert html.count(f'action="/escalations/ack/{link["token"]}"') == 1
    assert re.search(r'<form method="post" action="/escalations/ack/[^"]+"', html)
    assert ">Acknowledge</button>" in html
    assert _escalations(app, link["org"].id, link["incident_id"])[0]["acknowledged_at"] is None


def test_ack_link_post_acknowledges_as_the_links_user(app, link):
    client = app.test_client()
    html = client.get(f"/escalations/ack/{link['token']}").get_data(as_text=True)
    resp = client.post(f"/escalations/ack/{link['token']}", data={"csrf_token": csrf_of(html)})
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "Escalation acknowledged" in page and "Lead Mori" in page
    assert ">Acknowledge</button>" not in page
    row = _escalations(app, link["org"].id, link["incident_id"])[0]
    assert row["acknowledged_at"] is not None and row["acknowledged_by_id"] == link["lead"].id
    # Again: nothing changes, and the page says so.
    resp = client.post(f"/escalations/ack/{link['token']}", data={"csrf_token": csrf_of(html)})
    assert resp.status_code == 200 and "already acknowledged" in resp.get_data(as_text=True)
    assert _escalations(app, link["org"].id, link["incident_id"])[0] == row


def test_ack_link_post_needs_the_csrf_token(app, link):
    client = app.test_client()
    client.get(f"/escalations/ack/{link['token']}")
    assert client.post(f"/escalations/ack/{link['token']}").status_code == 400
    assert _escalations(app, link["org"].id, link["incident_id"])[0]["acknowledged_at"] is None


def test_forged_ack_link_is_404(app, link):
    client = app.test_client()
    forged = link["token"][:-4] + ("AAAA" if not link["token"].endswith("AAAA") else "BBBB")
    resp = client.get(f"/escalations/ack/{forged}", headers={"Accept-Language": "en"})
    assert resp.status_code == 404
    assert "not valid" in resp.get_data(as_text=True)
    assert "無効" in client.get(f"/escalations/ack/{forged}", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert client.get("/escalations/ack/not-a-token").status_code == 404
    html = client.get("/login").get_data(as_text=True)
    assert client.post(f"/escalations/ack/{forged}", data={"csrf_token": csrf_of(html)}).status_code == 404
    assert _escalations(app, link["org"].id, link["incident_id"])[0]["acknowledged_at"] is None


def test_expired_ack_link_is_400(app, link, monkeypatch):
    client = app.test_client()
    html = client.get(f"/escalations/ack/{link['token']}").get_data(as_text=True)
    monkeypatch.setattr(escalation, "ACK_TOKEN_MAX_AGE", -1)
    resp = client.get(f"/escalations/ack/{link['token']}", headers={"Accept-Language": "en"})
    assert resp.status_code == 400
    assert "expired" in resp.get_data(as_text=True)
    assert client.post(f"/escalations/ack/{link['token']}", data={"csrf_token": csrf_of(html)}).status_code == 400
    assert _escalations(app, link["org"].id, link["incident_id"])[0]["acknowledged_at"] is None


def test_ack_link_in_the_users_language(app, web, factory):
    lead = web.login_as("lead", locale="ja")
    incident_id = web.incident(severity="sev1")
    first = _escalations(app, web.org.id, incident_id)[0]
    token = _token(app, web.org.id, first["id"], lead.id)
    html = app.test_client().get(f"/escalations/ack/{token}").get_data(as_text=True)
    assert '<html lang="ja"' in html and "対応責任者" in html


# ---------------------------------------------------------------- the open escalations


def test_open_escalations_page_newest_first_with_buttons(web):
    web.login_as("lead", locale="en")
    older = web.incident(severity="sev2", title="Older incident")
    newer = web.incident(severity="sev1", title="Newer incident")
    html = _page(web, "/escalations")
    assert html.index("Newer incident") < html.index("Older incident")
    rows = _escalations(web.app, web.org.id)
    assert len(rows) == 4
    for r in rows:
        assert _ack_form(html, r["id"])
    assert "Filed at severity" in html and "AI governance committee" in html
    assert 'href="/escalations"' in html  # the header link
    target = [r for r in rows if r["incident_id"] == newer][0]
    resp = web.post(f"/escalations/{target['id']}/acknowledge", {"next": "/escalations"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/escalations")
    html = _page(web, "/escalations")
    assert not _ack_form(html, target["id"])
    assert older  # still listed
    assert "Older incident" in html


def test_no_escalations_link_for_a_reporter(web):
    web.login_as("reporter", locale="en")
    html = _page(web, "/incidents")
    assert 'href="/escalations"' not in html
    assert 'href="/notifications"' in html


# ---------------------------------------------------------------- notifications and the badge


def _badge(html):
    match = re.search(r'<span class="unread-badge" id="unread-badge">(\d+)', html)
    return int(match.group(1)) if match else 0


def test_notifications_list_and_mark_read(web):
    web.login_as("lead", locale="en")
    first = web.incident(severity="sev1", title="First notified")
    second = web.incident(severity="sev3", title="Second notified")
    html = _page(web, "/notifications")
    assert html.index("Second notified") < html.index("First notified")
    assert f'href="/incidents/{first}#escalation-' in html and f'href="/incidents/{second}#escalation-' in html
    assert html.count('class="notification unread"') == 2
    assert _badge(html) == 2
    resp = web.post("/notifications/read", csrf_from="/notifications")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/notifications")
    html = _page(web, "/notifications")
    assert "2 notifications marked as read." in html
    assert 'class="notification unread"' not in html and "First notified" in html
    assert _badge(html) == 0
    with web.app.app_context(), scoped(web.org.id):
        assert db.session.execute(select(Notification).where(Notification.read_at.is_(None))).first() is None
        db.session.remove()


def test_badge_counts_the_users_unread_notifications_only(web, factory):
    web.login_as("executive", locale="en")
    org = web.org
    web.incident(severity="sev1")  # level 3 (executives): one notification for this executive
    web.incident(severity="sev1")
    web.incident(severity="sev2")  # levels 1 and 2: not for executives
    assert _badge(_page(web, "/incidents")) == 2
    web.auth.logout()
    web.login_as("reporter", org=org)
    assert _badge(_page(web, "/incidents")) == 0


# ---------------------------------------------------------------- isolation


def test_another_organisations_escalation_is_404_everywhere(web, factory, app):
    web.login_as("lead", locale="en")
    theirs_org = web.org
    incident_id = web.incident(severity="sev1", title="Their secret incident")
    theirs = _escalations(app, theirs_org.id, incident_id)
    web.auth.logout()
    web.login_as("admin", locale="en")  # a new organisation
    for r in theirs:
        assert web.post(f"/escalations/{r['id']}/acknowledge").status_code == 404
    assert "Their secret incident" not in _page(web, "/escalations")
    assert "Their secret incident" not in _page(web, "/notifications")
    assert web.client.get(f"/incidents/{incident_id}").status_code == 404
    assert all(r["acknowledged_at"] is None for r in _escalations(app, theirs_org.id, incident_id))


# ---------------------------------------------------------------- languages


@pytest.mark.parametrize("locale, expected", [
    ("en", ('<html lang="en"', "Response lead", "Executives and the board", "Escalations")),
    ("ja", ('<html lang="ja"', "対応責任者", "経営層・取締役会")),
])
def test_pages_in_japanese_and_english(web, locale, expected):
    web.login_as("lead", locale=locale)
    incident_id = web.incident(severity="sev1")
    for path in (f"/incidents/{incident_id}", "/escalations", "/notifications"):
        html = _page(web, path)
        for text in expected[:2]:
            assert text in html, (path, text)
    html = _page(web, f"/incidents/{incident_id}")
    for text in expected:
        assert text in html, text
    assert "JST" in html


def test_metrics_api_counts_escalations_by_level(web, factory, app):
    lead = web.login_as("lead")
    web.incident(severity="sev1")
    web.incident(severity="sev2")
    token = factory.token(lead)
    resp = app.test_client().get("/api/v1/metrics", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    assert resp.get_json()["escalations_by_level"] == {"1": 2, "2": 1, "3": 1}


def test_dashboard_shows_escalations_by_level(web):
    web.login_as("executive", locale="en")
    web.incident(severity="sev1")
    html = _page(web, "/dashboard")
    assert 'id="chart-escalations_by_level"' in html
    assert "Executives and the board" in html and "Available once escalations are recorded" not in html
    csv = web.client.get("/dashboard/escalations_by_level.csv").get_data(as_text=True)
    assert "Response lead" in csv and "Executives and the board" in csv

