"""Translated labels of the codes the web pages show (roles, languages, timeline actions)."""
from flask_babel import lazy_gettext as _l

ROLE_LABELS = {
    "reporter": _l("Reporter"),
    "responder": _l("Responder"),
    "lead": _l("Response lead"),
    "executive": _l("Executive"),
    "admin": _l("Administrator"),
}

LOCALE_LABELS = {"ja": "日本語", "en": "English"}

ACTION_LABELS = {
    "filed": _l("Filed"),
    "edited": _l("Facts edited"),
    "transition": _l("State changed"),
    "comment": _l("Comment"),
}
