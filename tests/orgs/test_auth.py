"""Login, sessions, password hashing, throttling and CSRF, as a user meets them."""
import re

from argon2 import extract_parameters

from app.extensions import db
from app.orgs import passwords
from app.orgs import service as orgs
from app.orgs.models import User
from config import Config, ProductionConfig
from tests.conftest import PASSWORD


def test_password_hash_meets_asvs(app, factory):
    org = factory.org()
    user = factory.user(org, "lead")
    with app.app_context():
        stored = db.session.execute(db.select(User).where(User.id == user.id).execution_options(all_orgs=True)).scalar_one()
        assert stored.password_hash.startswith("$argon2id$")
        params = extract_parameters(stored.password_hash)
        assert PASSWORD not in stored.password_hash
    # OWASP / ASVS 5.0 V11.4.2: argon2id, m >= 19 MiB, t >= 2, p >= 1.
    assert params.memory_cost >= 19 * 1024
    assert params.time_cost >= 2
    assert params.parallelism >= 1
    assert params.salt_len >= 16
    for cfg in (Config, ProductionConfig):
        assert cfg.ARGON2_MEMORY_KIB >= passwords.ASVS_MIN_MEMORY_KIB
        assert cfg.ARGON2_TIME_COST >= passwords.ASVS_MIN_TIME_COST


def test_weaker_hash_is_upgraded_at_login(app, factory, auth):
    org = factory.org()
    user = factory.user(org, "lead")
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=4096, parallelism=1).hash(PASSWORD)
    with app.app_context():
        db.session.execute(db.update(User).where(User.id == user.id).values(password_hash=weak).execution_options(all_orgs=True))
        db.session.commit()
    assert auth.login(user.email).status_code == 302
    with app.app_context():
        stored = db.session.execute(db.select(User.password_hash).where(User.id == user.id).execution_options(all_orgs=True)).scalar_one()
        assert extract_parameters(stored).memory_cost >= 19 * 1024


def test_login_form_without_csrf_is_refused(client, factory):
    org = factory.org()
    user = factory.user(org, "lead")
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 400
    assert "/login" not in resp.headers.get("Location", "")
    # Still not logged in.
    assert client.get("/incidents").status_code == 302


def test_login_and_wrong_password(client, factory, auth):
    org = factory.org()
    user = factory.user(org, "lead")
    bad = auth.login(user.email, "wrong-password-123")
    assert bad.status_code == 422
    assert client.get("/incidents").status_code == 302
    good = auth.login(user.email.upper())  # e-mails compare case-insensitively
    assert good.status_code == 302
    assert client.get("/incidents").status_code == 200


def test_login_is_throttled_after_repeated_failures(client, factory, auth, app):
    org = factory.org()
    user = factory.user(org, "lead")
    limit = app.config["LOGIN_MAX_FAILURES_PER_EMAIL"]
    for _ in range(limit):
        assert auth.login(user.email, "wrong-password-123").status_code == 422
    resp = auth.login(user.email, PASSWORD)  # even the right password waits now
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0
    assert client.get("/incidents").status_code == 302
    # Another user is not affected by this user's failures.
    other = factory.user(org, "reporter")
    assert auth.login(other.email).status_code == 302


def test_unknown_email_failures_are_throttled_too(factory, auth, app):
    limit = app.config["LOGIN_MAX_FAILURES_PER_EMAIL"]
    for _ in range(limit):
        auth.login("ghost@example.jp", "whatever-password")
    assert auth.login("ghost@example.jp", "whatever-password").status_code == 429


def _session_cookie(client, app):
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return cookie.value if cookie else None


def test_session_is_renewed_at_login(client, factory, auth, app):
    org = factory.org()
    user = factory.user(org, "lead")
    client.get("/login")
    client.post("/language/en", data={"csrf_token": auth.csrf_token("/login")})
    before = _session_cookie(client, app)
    auth.login(user.email)
    after = _session_cookie(client, app)
    assert before and after and before != after
    with app.app_context():
        sessions = db.session.execute(db.select(orgs.UserSession).execution_options(all_orgs=True)).scalars().all()
        assert len(sessions) == 1 and sessions[0].user_id == user.id
    auth.logout()
    auth.login(user.email)
    with app.app_context():
        ids = db.session.execute(db.select(orgs.UserSession.id).execution_options(all_orgs=True)).scalars().all()
        assert len(set(ids)) == 2  # a new server-side session at each login


def test_session_dies_at_logout_even_if_cookie_is_replayed(client, factory, auth, app):
    org = factory.org()
    user = factory.user(org, "lead")
    auth.login(user.email)
    stolen = _session_cookie(client, app)
    assert client.get("/incidents").status_code == 200
    auth.logout()
    assert client.get("/incidents").status_code == 302
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], stolen)
    assert client.get("/incidents").status_code == 302


def test_session_dies_at_password_change(app, factory, auth):
    org = factory.org()
    user = factory.user(org, "lead")
    first, second = app.test_client(), app.test_client()
    from tests.conftest import AuthActions

    AuthActions(first).login(user.email)
    AuthActions(second).login(user.email)
    assert second.get("/incidents").status_code == 200
    with app.app_context():
        live = orgs.find_user_by_email(user.email)
        from app.tenancy import scoped

        with scoped(live.org_id):
            orgs.change_password(user=live, current_password=PASSWORD, new_password="a-brand-new-password-9")
    assert first.get("/incidents").status_code == 302
    assert second.get("/incidents").status_code == 302
    assert AuthActions(first).login(user.email, "a-brand-new-password-9").status_code == 302


def test_deactivated_user_cannot_log_in(app, factory, auth):
    org = factory.org()
    admin = factory.user(org, "admin")
    user = factory.user(org, "lead")
    with app.app_context():
        from app.tenancy import scoped

        with scoped(org.id):
            orgs.set_active(actor=admin, user_id=user.id, active=False)
    assert auth.login(user.email).status_code == 422


def test_session_cookie_flags(client, factory, auth, app):
    org = factory.org()
    user = factory.user(org, "lead")
    resp = auth.login(user.email)
    header = " ".join(resp.headers.getlist("Set-Cookie"))
    assert re.search(r"HttpOnly", header, re.I)
    assert re.search(r"SameSite=Lax", header, re.I)
    assert ProductionConfig.SESSION_COOKIE_SECURE is True


def test_open_redirect_after_login_is_refused(client, factory, auth):
    org = factory.org()
    user = factory.user(org, "lead")
    token = auth.csrf_token("/login")
    resp = client.post("/login?next=//evil.example.com/x", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    assert "evil.example.com" not in resp.headers["Location"]
