"""Language and time zone: the user's choice, else Accept-Language; dates in the org's zone."""
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app, g, request, session
from flask_babel import format_datetime as babel_format_datetime
from flask_login import current_user


def select_locale():
    """The user's saved choice, then the session's, then Accept-Language, then ja."""
    languages = current_app.config["LANGUAGES"]
    user = current_user if _user_loaded() else None
    if user is not None and user.is_authenticated and user.locale in languages:
        return user.locale
    chosen = session.get("locale") if request else None
    if chosen in languages:
        return chosen
    if request:
        best = request.accept_languages.best_match(languages)
        if best:
            return best
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _user_loaded():
    try:
        return current_user is not None
    except Exception:  # outside a request
        return False


def org_timezone():
    """The time zone of the caller's organisation (Asia/Tokyo by default)."""
    tz = g.get("org_timezone")
    return ZoneInfo(tz or current_app.config["DEFAULT_TIMEZONE"])


def to_local(value):
    """A UTC datetime in the organisation's time zone."""
    if value is None:
        return None
    return value.astimezone(org_timezone())


def format_dt(value, fmt="medium"):
    """Format a UTC datetime in the organisation's zone and the page's language, with the zone."""
    if value is None:
        return ""
    local = to_local(value)
    text = babel_format_datetime(local.replace(tzinfo=None), fmt, rebase=False)
    return f"{text} {local.tzname()}"


def local_input_value(value):
    """A UTC datetime as the ``datetime-local`` input wants it, in the org's zone."""
    if value is None:
        return ""
    return to_local(value).strftime("%Y-%m-%dT%H:%M")


def parse_local(text):
    """Parse a ``datetime-local`` value typed in the org's zone; returns UTC or raises ValueError."""
    naive = datetime.fromisoformat(text)
    if naive.tzinfo is None:
        naive = naive.replace(tzinfo=org_timezone())
    return naive.astimezone(ZoneInfo("UTC"))
