"""Organisations, users, roles, login sessions and API tokens: the only writers of these rows."""
import hashlib
import secrets
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import delete, func, select, update

from app.db import transaction, utcnow
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.orgs import passwords
from app.orgs.models import LOCALES, ROLES, ApiToken, LoginAttempt, Organisation, User, UserSession
from app.tenancy import scoped

TOKEN_PREFIX = "ait_"


class Throttled(Exception):
    """Too many failed logins; ``retry_after`` seconds until the next try."""

    def __init__(self, retry_after):
        super().__init__("too many failed logins")
        self.retry_after = retry_after


# ---------------------------------------------------------------- organisations


def create_org(*, slug, name, timezone="Asia/Tokyo", default_locale="ja", actor="cli"):
    """Create an organisation; the slug is unique. ``actor`` names who did it in the ledger."""
    slug = (slug or "").strip().lower()
    errors = {}
    if not slug or len(slug) > 64 or not all(c.isalnum() or c in "-_" for c in slug):
        errors["slug"] = ["Use 1-64 letters, digits, '-' or '_'."]
    if not (name or "").strip():
        errors["name"] = ["Required."]
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = ["Unknown time zone."]
    if default_locale not in LOCALES:
        errors["default_locale"] = ["Must be one of: ja, en."]
    if errors:
        raise ValidationFailed(errors)
    if get_org_by_slug(slug) is not None:
        raise Conflict(f"organisation {slug!r} already exists", fields={"slug": ["Already exists."]})
    with transaction() as s:
        org = Organisation(slug=slug, name=name.strip(), timezone=timezone, default_locale=default_locale)
        s.add(org)
        s.flush()
        from app.ledger import service as ledger

        ledger.record("org_created", actor=actor, org_id=org.id, subject=org,
                      payload={"slug": org.slug, "name": org.name, "timezone": org.timezone,
                               "default_locale": org.default_locale})
    return org


def get_org_by_slug(slug):
    """The organisation with this slug, or None."""
    return db.session.execute(select(Organisation).where(Organisation.slug == slug)).scalar_one_or_none()


def get_org(org_id):
    """The organisation with this id, or None."""
    return db.session.execute(select(Organisation).where(Organisation.id == org_id)).scalar_one_or_none()


def all_orgs():
    """Every organisation (CLI use)."""
    return list(db.session.execute(select(Organisation).order_by(Organisation.id)).scalars())


# ---------------------------------------------------------------- users


def _check_password_strength(password):
    if not password or len(password) < passwords.MIN_PASSWORD_LENGTH:
        return [f"At least {passwords.MIN_PASSWORD_LENGTH} characters."]
    if len(password) > passwords.MAX_PASSWORD_LENGTH:
        return [f"At most {passwords.MAX_PASSWORD_LENGTH} characters."]
    return None


def normalise_email(email):
    """E-mails compare case-insensitively."""
    return (email or "").strip().lower()


def create_user(*, org, email, name, role, password, locale=None, actor="cli"):
    """Create a user in ``org`` with a role and a password (``actor``: who, for the ledger)."""
    email = normalise_email(email)
    errors = {}
    if "@" not in email or len(email) > 254 or email.startswith("@") or email.endswith("@"):
        errors["email"] = ["Enter a valid e-mail address."]
    if role not in ROLES:
        errors["role"] = [f"Must be one of: {', '.join(ROLES)}."]
    if not (name or "").strip():
        name = email.split("@")[0]
    if len(name) > 200:
        errors["name"] = ["At most 200 characters."]
    problem = _check_password_strength(password)
    if problem:
        errors["password"] = problem
    if locale is not None and locale not in LOCALES:
        errors["locale"] = ["Must be one of: ja, en."]
    if errors:
        raise ValidationFailed(errors)
    if find_user_by_email(email) is not None:
        raise Conflict("a user with this e-mail already exists", fields={"email": ["Already registered."]})
    with transaction() as s:
        user = User(
            org_id=org.id, email=email, name=name.strip(), role=role,
            password_hash=passwords.hash_password(password), locale=locale, active=True,
            password_changed_at=utcnow(),
        )
        s.add(user)
        s.flush()
        from app.ledger import service as ledger

        ledger.record("user_created", actor=actor, org_id=org.id, subject=user,
                      payload={"email": user.email, "name": user.name, "role": user.role, "locale": user.locale})
    return user


INVITE_DAYS = 7


def invite_user(*, actor, email, name, role, locale=None):
    """Create a user who sets their own password; returns (user, raw invitation token shown once)."""
    _require_admin(actor)
    org = get_org(actor.org_id)
    unusable = secrets.token_urlsafe(24)  # never told to anyone; replaced at acceptance
    user = create_user(org=org, email=email, name=name, role=role, password=unusable, locale=locale, actor=actor)
    raw = secrets.token_urlsafe(32)
    with transaction() as s:
        user.invite_token_hash = _hash_token(raw)
        user.invite_expires_at = utcnow() + timedelta(days=INVITE_DAYS)
        s.add(user)
        from app.ledger import service as ledger

        ledger.record("user_invited", actor=actor, subject=user,
                      payload={"email": user.email, "role": user.role, "expires_at": user.invite_expires_at})
    return user, raw


def find_invitation(raw):
    """The invited user for a live invitation token, or None."""
    if not raw or len(raw) > 100:
        return None
    stmt = select(User).where(User.invite_token_hash == _hash_token(raw)).execution_options(all_orgs=True)
    user = db.session.execute(stmt).scalar_one_or_none()
    if user is None or not user.active or user.invite_expires_at is None or user.invite_expires_at < utcnow():
        return None
    return user


def accept_invitation(*, raw, password):
    """Set the invited user's password; the link then stops working. Returns the user."""
    user = find_invitation(raw)
    if user is None:
        raise NotFound("this invitation link is unknown or has expired")
    problem = _check_password_strength(password)
    if problem:
        raise ValidationFailed({"password": problem})
    with scoped(user.org_id), transaction() as s:
        user.password_hash = passwords.hash_password(password)
        user.password_changed_at = utcnow()
        user.invite_token_hash = None
        user.invite_expires_at = None
        s.add(user)
        from app.ledger import service as ledger

        ledger.record("invitation_accepted", actor=user, subject=user, payload={"email": user.email})
    return user


def find_user_by_email(email):
    """The user with this e-mail in any organisation (login and CLI), or None."""
    stmt = select(User).where(User.email == normalise_email(email)).execution_options(all_orgs=True)
    return db.session.execute(stmt).scalar_one_or_none()


def get_user(user_id):
    """A user of the organisation in scope, or raise NotFound."""
    user = db.session.execute(select(User).where(User.id == user_id)).scalar_one_or_none()
    if user is None:
        raise NotFound("user not found")
    return user


def list_users():
    """Users of the organisation in scope, by name."""
    return list(db.session.execute(select(User).order_by(User.active.desc(), User.name)).scalars())


def users_with_roles(*roles):
    """Active users of the organisation in scope whose role is one of ``roles``."""
    stmt = select(User).where(User.active.is_(True), User.role.in_(roles)).order_by(User.name)
    return list(db.session.execute(stmt).scalars())


def _admin_count():
    # Count a column of the entity (not select_from) so the tenant scope applies to it.
    stmt = select(func.count(User.id)).where(User.role == "admin", User.active.is_(True))
    return db.session.execute(stmt).scalar_one()


def _require_admin(actor):
    if actor is None or actor.role != "admin":
        raise Forbidden("only admins may manage users")


def set_role(*, actor, user_id, role):
    """Change a user's role (admins only; the last active admin keeps the role)."""
    user = get_user(user_id)
    _require_admin(actor)
    if role not in ROLES:
        raise ValidationFailed({"role": [f"Must be one of: {', '.join(ROLES)}."]})
    if user.role == "admin" and role != "admin" and user.active and _admin_count() <= 1:
        raise Conflict("the organisation must keep at least one active admin", fields={"role": ["Last admin."]})
    with transaction():
        before = user.role
        user.role = role
        db.session.add(user)
        from app.ledger import service as ledger

        ledger.record("role_changed", actor=actor, subject=user,
                      payload={"email": user.email, "from": before, "to": role})
    return user


def set_active(*, actor, user_id, active):
    """Deactivate (or reactivate) a user; deactivation ends their sessions and tokens."""
    user = get_user(user_id)
    _require_admin(actor)
    if not active and user.role == "admin" and user.active and _admin_count() <= 1:
        raise Conflict("the organisation must keep at least one active admin", fields={"active": ["Last admin."]})
    with transaction() as s:
        was_active = user.active
        user.active = active
        s.add(user)
        from app.ledger import service as ledger

        ledger.record("user_reactivated" if active else "user_deactivated", actor=actor, subject=user,
                      payload={"email": user.email, "was_active": bool(was_active), "active": bool(active)})
        if not active:
            now = utcnow()
            s.execute(update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None)).values(revoked_at=now))
            s.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=now))
    return user


def set_locale(*, user, locale):
    """Record a user's language choice."""
    if locale not in LOCALES:
        raise ValidationFailed({"locale": ["Must be one of: ja, en."]})
    with transaction() as s:
        user.locale = locale
        s.add(user)
    return user


def change_password(*, user, current_password, new_password):
    """Change a password; every session of the user ends."""
    if not passwords.verify_password(user.password_hash, current_password or ""):
        raise ValidationFailed({"current_password": ["The current password is wrong."]})
    problem = _check_password_strength(new_password)
    if problem:
        raise ValidationFailed({"new_password": problem})
    with transaction() as s:
        user.password_hash = passwords.hash_password(new_password)
        user.password_changed_at = utcnow()
        s.add(user)
        from app.ledger import service as ledger

        # Never the password nor its hash: only that it changed.
        ledger.record("password_changed", actor=user, subject=user, payload={"email": user.email})
        s.execute(
            update(UserSession)
            .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    return user


def reset_password(*, org, email, password):
    """Set a password without knowing the old one (CLI); every session of the user ends."""
    user = find_user_by_email(email)
    if user is None or user.org_id != org.id:
        raise NotFound("user not found")
    problem = _check_password_strength(password)
    if problem:
        raise ValidationFailed({"password": problem})
    with scoped(org.id), transaction() as s:
        user.password_hash = passwords.hash_password(password)
        user.password_changed_at = utcnow()
        s.add(user)
        from app.ledger import service as ledger

        ledger.record("password_reset", actor="cli", subject=user, payload={"email": user.email})
        s.execute(update(UserSession).where(UserSession.user_id == user.id).values(revoked_at=utcnow()))
    return user


# ---------------------------------------------------------------- login


def _throttle_check(email, ip):
    cfg = current_app.config
    window = timedelta(seconds=cfg["LOGIN_FAILURE_WINDOW_SECONDS"])
    since = utcnow() - window
    by_email = select(func.count(), func.min(LoginAttempt.at)).where(LoginAttempt.email == email, LoginAttempt.at >= since)
    by_ip = select(func.count(), func.min(LoginAttempt.at)).where(LoginAttempt.ip == ip, LoginAttempt.at >= since)
    for stmt, limit in ((by_email, cfg["LOGIN_MAX_FAILURES_PER_EMAIL"]), (by_ip, cfg["LOGIN_MAX_FAILURES_PER_IP"])):
        count, oldest = db.session.execute(stmt).one()
        if count >= limit:
            retry = int((oldest + window - utcnow()).total_seconds()) + 1
            raise Throttled(max(retry, 1))


def _record_failure(email, ip):
    with transaction() as s:
        s.add(LoginAttempt(email=email[:254], ip=ip[:64]))
        # Keep the table small: forget failures older than a day.
        s.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - timedelta(days=1)))


def authenticate(*, email, password, ip):
    """Check credentials and open a new server-side session; returns it, or None.

    Raises :class:`Throttled` after too many recent failures for the e-mail or address.
    """
    email = normalise_email(email)
    _throttle_check(email, ip or "?")
    user = find_user_by_email(email)
    if user is None:
        passwords.dummy_verify(password or "")
        _record_failure(email, ip or "?")
        return None
    if not passwords.verify_password(user.password_hash, password or "") or not user.active:
        _record_failure(email, ip or "?")
        return None
    with scoped(user.org_id), transaction() as s:
        if passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash_password(password)
        user.last_login_at = utcnow()
        s.add(user)
        s.execute(delete(LoginAttempt).where(LoginAttempt.email == email))
        session = UserSession(id=secrets.token_urlsafe(32), org_id=user.org_id, user_id=user.id)
        s.add(session)
    return session


def load_session(session_id):
    """The live session with this id (and its active user), or None."""
    if not session_id:
        return None
    stmt = (
        select(UserSession)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
        .execution_options(all_orgs=True)
    )
    sess = db.session.execute(stmt).scalar_one_or_none()
    if sess is None:
        return None
    user = db.session.execute(
        select(User).where(User.id == sess.user_id).execution_options(all_orgs=True)
    ).scalar_one_or_none()
    if user is None or not user.active:
        return None
    lifetime = timedelta(seconds=current_app.config["PERMANENT_SESSION_LIFETIME"])
    if sess.last_seen_at < utcnow() - lifetime:
        return None
    return sess, user


def touch_session(session_id):
    """Record activity on a session (at most once a minute, to keep writes rare)."""
    with transaction() as s:
        s.execute(
            update(UserSession)
            .where(UserSession.id == session_id, UserSession.last_seen_at < utcnow() - timedelta(minutes=1))
            .values(last_seen_at=utcnow())
            .execution_options(all_orgs=True)
        )


def end_session(session_id):
    """Log out: the session can never be used again."""
    if not session_id:
        return
    with transaction() as s:
        s.execute(
            update(UserSession)
            .where(UserSession.id == session_id)
            .values(revoked_at=utcnow())
            .execution_options(all_orgs=True)
        )


# ---------------------------------------------------------------- API tokens


def _hash_token(raw):
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create_token(*, user, name="API token"):
    """Create an API token for ``user``; returns (token row, the raw token shown once)."""
    name = (name or "").strip() or "API token"
    if len(name) > 100:
        raise ValidationFailed({"name": ["At most 100 characters."]})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with scoped(user.org_id), transaction() as s:
        token = ApiToken(org_id=user.org_id, user_id=user.id, name=name, prefix=raw[:10], token_hash=_hash_token(raw))
        s.add(token)
        s.flush()
        from app.ledger import service as ledger

        # The token's name and owner only: never the secret, its prefix or its hash.
        ledger.record("token_created", actor=user, subject=token, payload={"name": token.name, "user_id": user.id})
    return token, raw


def authenticate_token(raw):
    """The (token, user) for a raw bearer token that is live, or None."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    stmt = (
        select(ApiToken)
        .where(ApiToken.token_hash == _hash_token(raw), ApiToken.revoked_at.is_(None))
        .execution_options(all_orgs=True)
    )
    token = db.session.execute(stmt).scalar_one_or_none()
    if token is None or not token.user.active:
        return None
    now = utcnow()
    if token.last_used_at is None or token.last_used_at < now - timedelta(minutes=1):
        with transaction() as s:
            s.execute(
                update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now).execution_options(all_orgs=True)
            )
    return token, token.user


def list_tokens():
    """API tokens of the organisation in scope, newest first."""
    return list(db.session.execute(select(ApiToken).order_by(ApiToken.id.desc())).scalars())


def revoke_token(*, actor, token_id):
    """Revoke a token: admins any of their organisation's, others only their own."""
    token = db.session.execute(select(ApiToken).where(ApiToken.id == token_id)).scalar_one_or_none()
    if token is None or (actor.role != "admin" and token.user_id != actor.id):
        raise NotFound("token not found")
    if token.revoked_at is None:
        with transaction() as s:
            token.revoked_at = utcnow()
            s.add(token)
            from app.ledger import service as ledger

            ledger.record("token_revoked", actor=actor, subject=token,
                          payload={"name": token.name, "user_id": token.user_id})
    return token

