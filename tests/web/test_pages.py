"""The web pages through the Flask test client: forms, CSRF, roles, errors beside fields."""
import re
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import PASSWORD
from tests.web.conftest import local_input


def _now():
    return datetime.now(timezone.utc)


def form_body(**overrides):
    """A valid intake form body (times as a datetime-local input sends them)."""
    body = {
        "title": "チャットボットが別の顧客の注文履歴を表示した",
        "description": "サポート用チャットボットが、問い合わせた顧客に別の顧客の注文内容を回答した。",
        "kind": "incident",
        "severity": "sev2",
        "occurred_at": local_input(_now() - timedelta(hours=5)),
        "aware_at": local_input(_now() - timedelta(hours=2)),
        "ai_system_id": "",
        "harm_types": ["privacy", "reputational"],
        "harmed_parties": ["consumers"],
        "principles": ["privacy"],
        "jurisdictions": ["JP"],
        "harmed_count": "1",
        "sector": "retail",
        "personal_data": "y",
        "deaths": "0",
    }
    body.update(overrides)
    return body


def field_error(html, name):
    """The error text shown beside a field (its ``<name>-error`` element), or None."""
    match = re.search(rf'<small id="{name}-error" class="field-error">(.*?)</small>', html, re.S)
    return match.group(1).strip() if match else None


# ---------------------------------------------------------------- login and layout


def test_login_page_has_the_contract_fields(client):
    html = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    for name in ("email", "password", "csrf_token"):
        assert f'name="{name}"' in html
    assert 'class="skip-link"' in html
    assert 'for="email"' in html and 'for="password"' in html


def test_wrong_password_is_shown_beside_the_password_field(web, client, auth):
    web.login_as("reporter")
    auth.logout()
    response = auth.login(web.user.email, "wrong-password-123")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "password")
    password_input = re.search(r'<input[^>]*id="password"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in password_input and 'aria-describedby="password-error"' in password_input
    assert field_error(html, "email") is None


def test_navigation_follows_the_role(web, client):
    web.login_as("reporter")
    html = client.get("/incidents").get_data(as_text=True)
    assert 'href="/incidents/new"' in html and 'href="/systems"' in html
    assert 'href="/admin/users"' not in html
    assert 'action="/logout"' in html and 'action="/language/en"' in html
    assert web.org.name in html


def test_admin_sees_the_admin_navigation(web, client):
    web.login_as("admin")
    html = client.get("/incidents").get_data(as_text=True)
    assert 'href="/admin/users"' in html and 'href="/tokens"' in html


def test_anonymous_is_sent_to_login(client):
    response = client.get("/incidents")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# ---------------------------------------------------------------- CSRF and roles


@pytest.mark.parametrize("path", [
    "/incidents/new", "/systems/new", "/admin/users", "/tokens", "/account/password", "/logout", "/language/en",
])
def test_a_form_post_without_csrf_token_is_refused(web, client, path):
    web.login_as("admin")
    response = client.post(path, data={"title": "x", "name": "x"})
    assert response.status_code == 400


def test_login_without_csrf_token_is_refused(web, client):
    response = client.post("/login", data={"email": "a@example.jp", "password": PASSWORD})
    assert response.status_code == 400


@pytest.mark.parametrize("role", ["reporter", "responder", "executive"])
def test_only_leads_and_admins_manage_ai_systems(web, client, role):
    web.login_as(role)
    system_id = web.system()
    assert client.get("/systems/new").status_code == 403
    assert client.get(f"/systems/{system_id}/edit").status_code == 403
    assert web.post("/systems/new", {"name": "X"}).status_code == 403
    html = client.get("/systems").get_data(as_text=True)
    assert client.get("/systems").status_code == 200 and "Support chatbot" in html
    assert 'href="/systems/new"' not in html
    assert client.get(f"/systems/{system_id}").status_code == 200


@pytest.mark.parametrize("role", ["reporter", "responder", "lead", "executive"])
def test_admin_pages_are_for_admins(web, client, role):
    web.login_as(role)
    assert client.get("/admin/users").status_code == 403
    assert web.post("/admin/users", {"email": "x@example.jp", "role": "reporter"}).status_code == 403
    assert web.post(f"/admin/users/{web.user.id}/role", {"role": "admin"}).status_code == 403
    assert web.post(f"/admin/users/{web.user.id}/active", {"active": "0"}).status_code == 403


@pytest.mark.parametrize("role", ["reporter", "executive"])
def test_reporters_and_executives_do_not_edit_incidents(web, client, role):
    web.login_as(role)
    incident_id = web.incident()
    assert client.get(f"/incidents/{incident_id}/edit").status_code == 403
    assert "/edit" not in client.get(f"/incidents/{incident_id}").get_data(as_text=True)


def test_another_organisations_objects_are_not_found(web, client, factory):
    other = factory.org()
    web.login_as("lead", org=other)
    incident_id, system_id = web.incident(), web.system()
    client.post("/logout", data={"csrf_token": web.csrf()})
    web.login_as("admin")
    assert client.get(f"/incidents/{incident_id}").status_code == 404
    assert client.get(f"/incidents/{incident_id}/edit").status_code == 404
    assert client.get(f"/systems/{system_id}").status_code == 404
    assert client.get(f"/systems/{system_id}/edit").status_code == 404


# ---------------------------------------------------------------- incidents


def test_filing_an_incident_through_the_form(web, client):
    web.login_as("reporter")
    response = web.post("/incidents/new", form_body())
    assert response.status_code == 302
    assert re.search(r"/incidents/\d+$", response.headers["Location"])
    html = client.get(response.headers["Location"], headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "チャットボットが別の顧客の注文履歴を表示した" in html
    assert "AI-0001" in html
    assert "Privacy or personal data" in html and "Consumers or customers" in html
    assert "appi-preliminary" in html and "APPI" in html  # JP + personal data: the PPC reports are due
    assert "Filed" in html
    listing = client.get("/incidents").get_data(as_text=True)
    assert "チャットボットが別の顧客の注文履歴を表示した" in listing and "AI-0001" in listing


def test_the_intake_form_has_labels_and_help_for_every_field(web, client):
    web.login_as("reporter")
    html = client.get("/incidents/new", headers={"Accept-Language": "en"}).get_data(as_text=True)
    for name in ("title", "description", "kind", "severity", "occurred_at", "aware_at", "ai_system_id",
                 "harmed_count", "sector", "deaths", "personal_data", "critical_infrastructure",
                 "widespread_infringement", "serious_incident", "wrongful_purpose", "confidential"):
        assert f'for="{name}"' in html, name
        assert f'id="{name}-help"' in html, name
    for name in ("harm_types", "harmed_parties", "principles", "jurisdictions"):
        assert f'id="{name}-help"' in html and f'name="{name}"' in html, name
    assert 'type="datetime-local"' in html
    assert "APPI" in html  # what "aware" means for the deadlines


def test_an_invalid_incident_shows_errors_beside_fields_and_keeps_input(web, client):
    web.login_as("reporter")
    body = form_body(
        title="",
        occurred_at=local_input(_now() - timedelta(hours=1)),
        aware_at=local_input(_now() - timedelta(hours=3)),
    )
    response = web.post("/incidents/new", body, headers={"Accept-Language": "en"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "title") == "Required."
    assert field_error(html, "aware_at") == "Must be at or after the time it occurred."
    assert re.search(r'aria-describedby="title-help title-error"', html)
    assert field_error(html, "description") is None
    assert body["description"] in html
    assert re.search(r'name="harm_types" value="privacy" checked', html)
    assert re.search(r'name="harm_types" value="reputational" checked', html)
    assert not re.search(r'name="harm_types" value="physical" checked', html)
    assert re.search(r'name="personal_data" type="checkbox" value="y"', html) and "checked" in html
    assert f'value="{body["occurred_at"]}"' in html
    assert '<option selected value="retail">' in html or 'value="retail" selected' in html


def test_invalid_incident_errors_in_japanese(web, client):
    web.login_as("reporter")
    body = form_body(title="", aware_at=local_input(_now() + timedelta(days=2)))
    html = web.post("/incidents/new", body, headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert field_error(html, "title") == "必須項目です。"
    assert field_error(html, "aware_at") == "未来の日時は指定できません。"


def test_another_organisations_ai_system_is_not_found(web, client, factory):
    other = factory.org()
    web.login_as("lead", org=other)
    foreign_system = web.system(name="Foreign")
    client.post("/logout", data={"csrf_token": web.csrf()})
    web.login_as("reporter")
    response = web.post("/incidents/new", form_body(ai_system_id=str(foreign_system)), headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "ai_system_id") == "AI system not found."


def test_the_ai_system_select_lists_the_organisations_systems(web, client):
    web.login_as("lead")
    system_id = web.system(name="与信審査モデル")
    html = client.get("/incidents/new").get_data(as_text=True)
    assert f'<option value="{system_id}">与信審査モデル</option>' in html
    response = web.post("/incidents/new", form_body(ai_system_id=str(system_id)))
    assert response.status_code == 302
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "与信審査モデル" in detail
    assert "与信審査モデル" in client.get(f"/systems/{system_id}").get_data(as_text=True)
    assert "AI-0001" in client.get(f"/systems/{system_id}").get_data(as_text=True)


def test_edit_with_the_current_version_saves(web, client):
    web.login_as("responder")
    incident_id = web.incident()
    html = client.get(f"/incidents/{incident_id}/edit").get_data(as_text=True)
    assert 'name="version" type="hidden" value="1"' in html
    occurred = re.search(r'id="occurred_at" name="occurred_at" required type="datetime-local" value="([^"]+)"', html)
    aware = re.search(r'id="aware_at" name="aware_at" required type="datetime-local" value="([^"]+)"', html)
    assert occurred and aware
    body = form_body(title="Updated title", version="1", occurred_at=occurred.group(1), aware_at=aware.group(1))
    response = web.post(f"/incidents/{incident_id}/edit", body)
    assert response.status_code == 302
    detail = client.get(f"/incidents/{incident_id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Updated title" in detail and "Facts edited" in detail


def test_edit_with_a_stale_version_shows_the_conflict_and_keeps_input(web, client):
    web.login_as("lead")
    incident_id = web.incident()
    from app.incidents import service as incidents

    web.as_actor(incidents.update_incident, incident_id=incident_id, version=1, data={"title": "Changed meanwhile"})
    body = form_body(title="My edit", description="My careful description", version="1")
    response = web.post(f"/incidents/{incident_id}/edit", body, headers={"Accept-Language": "en"})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone else changed this incident" in html
    assert 'value="My edit"' in html and "My careful description" in html
    assert 'name="version" type="hidden" value="2"' in html


def test_reporter_is_hidden_on_confidential_filings(web, client, factory):
    web.login_as("reporter", name="秘密 太郎")
    incident_id = web.incident(confidential=True)
    org = web.org
    client.post("/logout", data={"csrf_token": web.csrf()})
    web.login_as("lead", org=org)
    html = client.get(f"/incidents/{incident_id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "秘密 太郎" not in html and "visible to administrators only" in html
    client.post("/logout", data={"csrf_token": web.csrf()})
    web.login_as("admin", org=org)
    assert "秘密 太郎" in client.get(f"/incidents/{incident_id}").get_data(as_text=True)


def test_list_filters_and_next_page(web, client, monkeypatch):
    import app.web.incidents as views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    web.login_as("lead")
    for n in range(3):
        web.incident(title=f"Routine {n}", severity="sev3")
    web.incident(title="Critical one", severity="sev1", jurisdictions=["EU"])
    html = client.get("/incidents?severity=sev1").get_data(as_text=True)
    assert "Critical one" in html and "Routine" not in html
    html = client.get("/incidents?jurisdiction=EU").get_data(as_text=True)
    assert "Critical one" in html and "Routine" not in html
    html = client.get("/incidents?q=Routine").get_data(as_text=True)
    assert "Routine 2" in html and "Routine 1" in html and "Routine 0" not in html
    next_link = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    assert "cursor=" in next_link and "q=Routine" in next_link
    page2 = client.get(next_link).get_data(as_text=True)
    assert "Routine 0" in page2 and "Routine 2" not in page2 and 'rel="next"' not in page2


def test_a_reporter_lists_only_their_own_incidents(web, client):
    web.login_as("lead")
    web.incident(title="Lead's incident")
    org = web.org
    client.post("/logout", data={"csrf_token": web.csrf()})
    web.login_as("reporter", org=org)
    web.incident(title="My incident")
    html = client.get("/incidents").get_data(as_text=True)
    assert "My incident" in html and "Lead&#39;s incident" not in html and "Lead's incident" not in html


# ---------------------------------------------------------------- AI systems


def test_lead_creates_and_edits_an_ai_system(web, client):
    web.login_as("lead")
    body = {
        "name": "需要予測AI", "purpose": "店舗の需要予測", "actor_role": "developer", "developer": "自社",
        "model_name": "gradient boosting", "model_version": "2.1", "training_sources": "POSデータ 2019-2025",
        "deployment_context": "全国120店舗の発注", "owner_id": str(web.user.id), "risk_level": "limited",
        "status": "in_use", "eu_high_risk": "y",
    }
    response = web.post("/systems/new", body)
    assert response.status_code == 302
    location = response.headers["Location"]
    html = client.get(location, headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert "需要予測AI" in html and "開発者" in html and "POSデータ" in html
    system_id = int(location.rsplit("/", 1)[1])
    edit = client.get(f"/systems/{system_id}/edit").get_data(as_text=True)
    assert 'value="需要予測AI"' in edit
    response = web.post(f"/systems/{system_id}/edit", dict(body, name="", status="retired"),
                        headers={"Accept-Language": "en"})
    assert response.status_code == 422 and field_error(response.get_data(as_text=True), "name") == "Required."
    response = web.post(f"/systems/{system_id}/edit", dict(body, status="retired"))
    assert response.status_code == 302
    listing = client.get("/systems", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Retired" in listing and "EU high-risk" in listing


def test_actor_roles_have_guideline_labels_in_japanese(web, client):
    web.login_as("admin")
    html = client.get("/systems/new", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    for label in ("開発者", "提供者", "利用者"):
        assert label in html


# ---------------------------------------------------------------- admin: users, invitations, tokens


def test_admin_invites_and_the_invitee_signs_in(web, client, auth):
    web.login_as("admin")
    response = web.post("/admin/users", {"email": "new.person@example.jp", "name": "新人 花子",
                                         "role": "responder", "locale": "ja"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    link = re.search(r'<code class="secret" id="invite-link">([^<]+)</code>', html).group(1)
    assert "/invite/" in link
    assert "invite-link" not in client.get("/admin/users").get_data(as_text=True)  # shown once
    client.post("/logout", data={"csrf_token": web.csrf()})
    path = link.split("localhost", 1)[1]
    assert client.get(path).status_code == 200
    bad = client.post(path, data={"csrf_token": web.csrf(path), "password": "short", "confirm": "short"},
                      headers={"Accept-Language": "en"})
    assert bad.status_code == 422 and "At least 12 characters." in field_error(bad.get_data(as_text=True), "password")
    new_password = "a-long-enough-passphrase"
    response = client.post(path, data={"csrf_token": web.csrf(path), "password": new_password, "confirm": new_password})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert client.get(path).status_code == 404  # the link works once
    assert auth.login("new.person@example.jp", new_password).status_code == 302
    assert "新人 花子" in client.get("/account").get_data(as_text=True)


def test_invite_with_a_registered_email_shows_the_error_beside_it(web, client):
    admin = web.login_as("admin")
    response = web.post("/admin/users", {"email": admin.email, "role": "reporter"}, headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "email") == "Already registered."


def test_admin_changes_a_role_and_deactivates(web, client, factory, auth):
    web.login_as("admin")
    other = factory.user(web.org, "reporter")
    assert web.post(f"/admin/users/{other.id}/role", {"role": "lead"}).status_code == 302
    html = client.get("/admin/users").get_data(as_text=True)
    assert re.search(rf'id="role-{other.id}">.*?<option value="lead" selected>', html, re.S)
    assert web.post(f"/admin/users/{other.id}/active", {"active": "0"}).status_code == 302
    client.post("/logout", data={"csrf_token": web.csrf()})
    assert auth.login(other.email).status_code == 422  # deactivated users cannot sign in


def test_the_last_admin_keeps_the_role(web, client):
    admin = web.login_as("admin")
    response = web.post(f"/admin/users/{admin.id}/role", {"role": "reporter"}, follow_redirects=True,
                        headers={"Accept-Language": "en"})
    assert "at least one active administrator" in response.get_data(as_text=True)


def test_token_is_shown_once_and_revocation_stops_the_api(web, client):
    web.login_as("responder")
    response = web.post("/tokens", {"name": "CI script"})
    html = response.get_data(as_text=True)
    raw = re.search(r'<code class="secret" id="new-token">([^<]+)</code>', html).group(1)
    api = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {raw}"})
    assert api.status_code == 200
    listing = client.get("/tokens").get_data(as_text=True)
    assert raw not in listing and "CI script" in listing
    token_id = re.search(r'action="/tokens/(\d+)/revoke"', listing).group(1)
    assert web.post(f"/tokens/{token_id}/revoke").status_code == 302
    assert 'class="tag warn revoked"' in client.get("/tokens").get_data(as_text=True)
    api = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {raw}"})
    assert api.status_code == 401


def test_people_see_and_revoke_only_their_own_tokens(web, client, factory):
    web.login_as("reporter")
    colleague = factory.user(web.org, "reporter")
    factory.token(colleague)
    html = client.get("/tokens").get_data(as_text=True)
    assert "/revoke" not in html
    from app.extensions import db
    from app.orgs import service as orgs
    from app.tenancy import scoped

    with web.app.app_context(), scoped(web.org.id):
        token_id = orgs.list_tokens()[0].id
        db.session.remove()
    assert web.post(f"/tokens/{token_id}/revoke").status_code == 404


# ---------------------------------------------------------------- account


def test_password_change_ends_the_session(web, client, auth):
    web.login_as("reporter")
    bad = web.post("/account/password", {"current_password": "nope-nope-nope", "new_password": "x" * 12,
                                         "confirm": "x" * 12}, headers={"Accept-Language": "en"})
    assert bad.status_code == 422
    assert field_error(bad.get_data(as_text=True), "current_password") == "The current password is wrong."
    new = "another-long-passphrase"
    response = web.post("/account/password", {"current_password": PASSWORD, "new_password": new, "confirm": new})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert client.get("/incidents").status_code == 302  # signed out
    assert auth.login(web.user.email, PASSWORD).status_code == 422
    assert auth.login(web.user.email, new).status_code == 302


def test_error_pages_use_the_layout(web, client):
    web.login_as("reporter")
    response = client.get("/incidents/999999", headers={"Accept-Language": "en"})
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "There is nothing here" in html and 'class="skip-link"' in html
