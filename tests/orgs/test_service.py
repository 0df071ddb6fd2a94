"""Organisations, users, roles, sessions, invitations and API tokens, through the service."""
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.orgs import service as orgs
from app.orgs.models import User
from app.tenancy import scoped

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def org(ctx):
    """An organisation, with the test under its scope."""
    organisation = orgs.create_org(slug="acme", name="アクメ株式会社")
    with scoped(organisation.id):
        yield organisation


def make_user(org, role="reporter", email=None, password=PASSWORD):
    """A user of ``org`` (call inside its scope)."""
    return orgs.create_user(org=org, email=email or f"{role}@{org.slug}.example.jp", name=None, role=role,
                            password=password)


# ---------------------------------------------------------------- organisations


def test_create_org_normalises_and_defaults(ctx):
    org = orgs.create_org(slug="  ACME-jp_1 ", name=" アクメ ")
    assert org.slug == "acme-jp_1"
    assert org.name == "アクメ"
    assert org.timezone == "Asia/Tokyo" and org.default_locale == "ja"
    assert orgs.get_org_by_slug("acme-jp_1").id == org.id


@pytest.mark.parametrize("kwargs, field", [
    ({"slug": "", "name": "A"}, "slug"),
    ({"slug": "has space", "name": "A"}, "slug"),
    ({"slug": "x" * 65, "name": "A"}, "slug"),
    ({"slug": "ok", "name": "  "}, "name"),
    ({"slug": "ok", "name": "A", "timezone": "Mars/Olympus"}, "timezone"),
    ({"slug": "ok", "name": "A", "default_locale": "fr"}, "default_locale"),
])
def test_create_org_validation(ctx, kwargs, field):
    with pytest.raises(ValidationFailed) as err:
        orgs.create_org(**kwargs)
    assert field in err.value.fields
    assert orgs.all_orgs() == []


def test_create_org_duplicate_slug_is_a_conflict(ctx):
    orgs.create_org(slug="acme", name="A")
    with pytest.raises(Conflict) as err:
        orgs.create_org(slug="ACME", name="B")
    assert "slug" in err.value.fields
    assert len(orgs.all_orgs()) == 1


# ---------------------------------------------------------------- users


def test_create_user_normalises_email_and_hashes_password(org):
    user = orgs.create_user(org=org, email=" Hanako.Sato@Acme.example.JP ", name="佐藤 花子", role="lead",
                            password=PASSWORD)
    assert user.email == "hanako.sato@acme.example.jp"
    assert user.name == "佐藤 花子" and user.org_id == org.id and user.active
    assert PASSWORD not in user.password_hash
    assert orgs.find_user_by_email("HANAKO.SATO@acme.example.jp").id == user.id


@pytest.mark.parametrize("overrides, field", [
    ({"email": "not-an-email"}, "email"),
    ({"email": "@acme.jp"}, "email"),
    ({"email": "someone@"}, "email"),
    ({"email": "a" * 250 + "@x.jp"}, "email"),
    ({"password": "short"}, "password"),
    ({"password": ""}, "password"),
    ({"password": "x" * 129}, "password"),
    ({"role": "king"}, "role"),
    ({"name": "名" * 201}, "name"),
    ({"locale": "fr"}, "locale"),
])
def test_create_user_validation(org, overrides, field):
    kwargs = {"org": org, "email": "new@acme.example.jp", "name": "New", "role": "reporter", "password": PASSWORD}
    kwargs.update(overrides)
    with pytest.raises(ValidationFailed) as err:
        orgs.create_user(**kwargs)
    assert field in err.value.fields
    assert orgs.list_users() == []


def test_duplicate_email_across_organisations_is_a_conflict(ctx):
    acme = orgs.create_org(slug="acme", name="A")
    other = orgs.create_org(slug="other", name="B")
    with scoped(acme.id):
        make_user(acme, email="same@example.jp")
    with scoped(other.id):
        with pytest.raises(Conflict) as err:
            make_user(other, email="SAME@example.jp")
        assert "email" in err.value.fields
        assert orgs.list_users() == []


def test_users_of_another_organisation_are_not_found(ctx):
    acme = orgs.create_org(slug="acme", name="A")
    other = orgs.create_org(slug="other", name="B")
    with scoped(acme.id):
        mine = make_user(acme)
    with scoped(other.id):
        theirs = make_user(other, role="admin")
        with pytest.raises(NotFound):
            orgs.get_user(mine.id)
        with pytest.raises(NotFound):
            orgs.set_role(actor=theirs, user_id=mine.id, role="admin")
        assert [u.id for u in orgs.list_users()] == [theirs.id]


# ---------------------------------------------------------------- roles and deactivation


def test_set_role_keeps_at_least_one_admin(org):
    admin = make_user(org, "admin")
    with pytest.raises(Conflict):
        orgs.set_role(actor=admin, user_id=admin.id, role="lead")
    assert orgs.get_user(admin.id).role == "admin"
    with pytest.raises(Conflict):
        orgs.set_active(actor=admin, user_id=admin.id, active=False)
    second = make_user(org, "admin", email="admin2@acme.example.jp")
    orgs.set_role(actor=admin, user_id=admin.id, role="lead")
    assert orgs.get_user(admin.id).role == "lead"
    with pytest.raises(Conflict):
        orgs.set_role(actor=second, user_id=second.id, role="reporter")


def test_last_admin_check_counts_only_this_organisation(ctx):
    other = orgs.create_org(slug="other", name="B")
    with scoped(other.id):
        make_user(other, "admin", email="a1@other.example.jp")
        make_user(other, "admin", email="a2@other.example.jp")
    acme = orgs.create_org(slug="acme", name="A")
    with scoped(acme.id):
        admin = make_user(acme, "admin")
        with pytest.raises(Conflict):
            orgs.set_role(actor=admin, user_id=admin.id, role="reporter")
        with pytest.raises(Conflict):
            orgs.set_active(actor=admin, user_id=admin.id, active=False)
        assert orgs.get_user(admin.id).role == "admin"


def test_set_role_rejects_unknown_role(org):
    admin = make_user(org, "admin")
    user = make_user(org)
    with pytest.raises(ValidationFailed):
        orgs.set_role(actor=admin, user_id=user.id, role="owner")
    assert orgs.get_user(user.id).role == "reporter"


def test_deactivation_revokes_sessions_and_tokens(org):
    admin = make_user(org, "admin")
    user = make_user(org, "responder")
    sess = orgs.authenticate(email=user.email, password=PASSWORD, ip="127.0.0.1")
    _, raw = orgs.create_token(user=user)
    assert orgs.load_session(sess.id) is not None
    assert orgs.authenticate_token(raw) is not None

    orgs.set_active(actor=admin, user_id=user.id, active=False)
    assert orgs.load_session(sess.id) is None
    assert orgs.authenticate_token(raw) is None
    assert orgs.authenticate(email=user.email, password=PASSWORD, ip="127.0.0.1") is None

    # Reactivation does not bring the old session or token back.
    orgs.set_active(actor=admin, user_id=user.id, active=True)
    assert orgs.load_session(sess.id) is None
    assert orgs.authenticate_token(raw) is None
    assert orgs.authenticate(email=user.email, password=PASSWORD, ip="127.0.0.1") is not None


# ---------------------------------------------------------------- passwords and sessions


def test_change_password_wrong_current_is_refused(org):
    user = make_user(org)
    with pytest.raises(ValidationFailed) as err:
        orgs.change_password(user=user, current_password="not-the-password", new_password="a-new-password-2026")
    assert "current_password" in err.value.fields
    with pytest.raises(ValidationFailed) as err:
        orgs.change_password(user=user, current_password=PASSWORD, new_password="short")
    assert "new_password" in err.value.fields
    assert orgs.authenticate(email=user.email, password=PASSWORD, ip="127.0.0.1") is not None


def test_change_password_ends_every_session(org):
    user = make_user(org)
    first = orgs.authenticate(email=user.email, password=PASSWORD, ip="127.0.0.1")
    second = orgs.authenticate(email=user.email, password=PASSWORD, ip="10.0.0.2")
    assert first.id != second.id
    orgs.change_password(user=user, current_password=PASSWORD, new_password="a-new-password-2026")
    assert orgs.load_session(first.id) is None
    assert orgs.load_session(second.id) is None
    assert orgs.authenticate(email=user.email, password=PASSWORD, ip="127.0.0.1") is None
    assert orgs.authenticate(email=user.email, password="a-new-password-2026", ip="127.0.0.1") is not None


def test_end_session_kills_only_that_session(org):
    user = make_user(org)
    first = orgs.authenticate(email=user.email, password=PASSWORD, ip="127.0.0.1")
    second = orgs.authenticate(email=user.email, password=PASSWORD, ip="127.0.0.1")
    orgs.end_session(first.id)
    assert orgs.load_session(first.id) is None
    sess, loaded = orgs.load_session(second.id)
    assert sess.id == second.id and loaded.id == user.id


def test_authenticate_unknown_and_wrong_password(org):
    user = make_user(org)
    assert orgs.authenticate(email="ghost@acme.example.jp", password=PASSWORD, ip="1.1.1.1") is None
    assert orgs.authenticate(email=user.email, password="wrong-password-1", ip="1.1.1.1") is None
    assert orgs.load_session(None) is None and orgs.load_session("no-such-session") is None


# ---------------------------------------------------------------- invitations


def test_invitation_sets_password_once(org):
    admin = make_user(org, "admin")
    invited, raw = orgs.invite_user(actor=admin, email="invitee@acme.example.jp", name="招待 太郎", role="responder")
    assert invited.org_id == org.id and invited.role == "responder"
    assert invited.invite_token_hash != raw and raw not in invited.invite_token_hash
    assert orgs.find_invitation(raw).id == invited.id
    assert orgs.find_invitation("not-a-token") is None
    assert orgs.find_invitation("") is None

    with pytest.raises(ValidationFailed):
        orgs.accept_invitation(raw=raw, password="short")
    assert orgs.find_invitation(raw) is not None  # a failed attempt does not burn the link

    orgs.accept_invitation(raw=raw, password="my-own-password-1")
    assert orgs.authenticate(email="invitee@acme.example.jp", password="my-own-password-1", ip="1.1.1.1")
    # The link works once.
    assert orgs.find_invitation(raw) is None
    with pytest.raises(NotFound):
        orgs.accept_invitation(raw=raw, password="another-password-2")


def test_expired_invitation_is_refused(org):
    admin = make_user(org, "admin")
    invited, raw = orgs.invite_user(actor=admin, email="late@acme.example.jp", name="", role="reporter")
    db.session.execute(
        db.update(User).where(User.id == invited.id).values(invite_expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    db.session.expire_all()
    assert orgs.find_invitation(raw) is None
    with pytest.raises(NotFound):
        orgs.accept_invitation(raw=raw, password="my-own-password-1")


def test_invitation_of_deactivated_user_is_refused(org):
    admin = make_user(org, "admin")
    invited, raw = orgs.invite_user(actor=admin, email="gone@acme.example.jp", name="", role="reporter")
    orgs.set_active(actor=admin, user_id=invited.id, active=False)
    assert orgs.find_invitation(raw) is None


# ---------------------------------------------------------------- API tokens


def test_tokens_are_stored_only_as_hashes(org):
    user = make_user(org, "lead")
    token, raw = orgs.create_token(user=user, name="CI")
    assert raw.startswith(orgs.TOKEN_PREFIX)
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    rows = db.session.execute(text("SELECT * FROM api_token")).all()
    assert len(rows) == 1
    for value in rows[0]:
        assert raw not in str(value)
    found, owner = orgs.authenticate_token(raw)
    assert found.id == token.id and owner.id == user.id


def test_bad_tokens_are_refused(org):
    user = make_user(org, "lead")
    _, raw = orgs.create_token(user=user)
    for bad in (None, "", raw[:-1], "xyz_" + raw[4:], raw + "x" * 100):
        assert orgs.authenticate_token(bad) is None
    with pytest.raises(ValidationFailed):
        orgs.create_token(user=user, name="n" * 101)


def test_revoke_token_rules(org):
    admin = make_user(org, "admin")
    alice = make_user(org, "lead", email="alice@acme.example.jp")
    bob = make_user(org, "responder", email="bob@acme.example.jp")
    alice_token, alice_raw = orgs.create_token(user=alice)
    _, bob_raw = orgs.create_token(user=bob)
    with pytest.raises(NotFound):
        orgs.revoke_token(actor=bob, token_id=alice_token.id)  # not his: not found
    assert orgs.authenticate_token(alice_raw) is not None
    orgs.revoke_token(actor=admin, token_id=alice_token.id)
    assert orgs.authenticate_token(alice_raw) is None
    assert orgs.authenticate_token(bob_raw) is not None
    assert {t.user_id for t in orgs.list_tokens()} == {alice.id, bob.id}


def test_token_of_another_organisation_cannot_be_revoked(ctx):
    acme = orgs.create_org(slug="acme", name="A")
    other = orgs.create_org(slug="other", name="B")
    with scoped(acme.id):
        user = make_user(acme, "lead")
        token, raw = orgs.create_token(user=user)
    with scoped(other.id):
        admin = make_user(other, "admin")
        with pytest.raises(NotFound):
            orgs.revoke_token(actor=admin, token_id=token.id)
        assert orgs.list_tokens() == []
    assert orgs.authenticate_token(raw) is not None
    assert db.session.execute(select(User.id).execution_options(all_orgs=True)).all()
