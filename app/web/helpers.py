"""Helpers shared by the web views: role checks and service errors mapped onto forms."""
import re
from functools import wraps

from flask import abort
from flask_babel import gettext as _
from flask_login import current_user, login_required

# Messages of the services (English) and their translatable equivalents.
_KNOWN = {
    "Required.": lambda: _("Required."),
    "Cannot be in the future.": lambda: _("Cannot be in the future."),
    "Must be at or after the time it occurred.": lambda: _("Must be at or after the time it occurred."),
    "AI system not found.": lambda: _("AI system not found."),
    "Not found.": lambda: _("Not found."),
    "The current password is wrong.": lambda: _("The current password is wrong."),
    "Already registered.": lambda: _("Already registered."),
    "Enter a valid e-mail address.": lambda: _("Enter a valid e-mail address."),
    "Last admin.": lambda: _("The organisation must keep at least one active administrator."),
    "Must be a whole number.": lambda: _("Must be a whole number."),
    "Must be true or false.": lambda: _("Must be true or false."),
}
_PATTERNS = [
    (re.compile(r"^At least (\d+) characters\.$"), lambda n: _("At least %(n)s characters.", n=n)),
    (re.compile(r"^At most (\d+) characters\.$"), lambda n: _("At most %(n)s characters.", n=n)),
    (re.compile(r"^Must be between 0 and (\d+)\.$"), lambda n: _("Must be between 0 and %(n)s.", n=n)),
    (re.compile(r"^Must be one of: .*$"), lambda: _("Not a valid choice.")),
    (re.compile(r"^Unknown: .*$"), lambda: _("Not a valid choice.")),
]


def translate_message(message):
    """The page-language equivalent of a service's English message (else the message)."""
    known = _KNOWN.get(message)
    if known:
        return known()
    for pattern, make in _PATTERNS:
        match = pattern.match(message)
        if match:
            return make(*match.groups())
    return message


def apply_service_errors(form, fields, aliases=None):
    """Put a service's ``ValidationFailed.fields`` beside the form's fields.

    Returns the messages that belong to no field of the form (shown above it).
    """
    aliases = aliases or {}
    leftover = []
    for name, messages in (fields or {}).items():
        field = form._fields.get(aliases.get(name, name))
        translated = [translate_message(m) for m in messages]
        if field is None:
            leftover.extend(translated)
            continue
        if not isinstance(field.errors, list):
            field.errors = list(field.errors)
        for message in translated:
            if message not in field.errors:
                field.errors.append(message)
    return leftover


def roles_required(*roles):
    """Log in first; then only these roles, others get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def can_manage_systems(user):
    """Leads and admins create and edit AI systems."""
    return user.is_authenticated and user.role in ("lead", "admin")


def can_edit_incidents(user):
    """Responders, leads and admins edit incident facts (executives read)."""
    return user.is_authenticated and user.role in ("responder", "lead", "admin")
