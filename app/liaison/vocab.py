"""Vocabularies of ministry requests: the usual ministries (ja/en names), kinds and statuses.

Ministry names are official names, so both languages are written here (not translated);
kinds and statuses are translated labels.
"""
from flask_babel import lazy_gettext as _l

# code -> (Japanese name, English name). "other" takes a free-text name.
MINISTRIES = {
    "cao-ai": ("内閣府 AI戦略本部", "Cabinet Office AI Strategic Headquarters"),
    "meti": ("経済産業省", "METI (Ministry of Economy, Trade and Industry)"),
    "mic": ("総務省", "MIC (Ministry of Internal Affairs and Communications)"),
    "ppc": ("個人情報保護委員会", "PPC (Personal Information Protection Commission)"),
    "fsa": ("金融庁", "FSA (Financial Services Agency)"),
    "mhlw": ("厚生労働省", "MHLW (Ministry of Health, Labour and Welfare)"),
    "mlit": ("国土交通省", "MLIT (Ministry of Land, Infrastructure, Transport and Tourism)"),
    "other": ("その他", "Other"),
}

KINDS = {
    "request": _l("Request"),
    "corrective_notice": _l("Corrective notice"),
    "guidance": _l("Guidance"),
    "report_collection": _l("Report collection"),
}

STATUSES = {
    "open": _l("Open"),
    "answered": _l("Answered"),
    "closed": _l("Closed"),
}

REFERENCE_MAX = 200
MINISTRY_MAX = 200
ACTIONS_MAX = 20000


def ministry_label(value, locale="ja"):
    """The name of a ministry code in ``locale`` (ja or en); free text is shown as written."""
    names = MINISTRIES.get(value)
    if names is None:
        return value
    return names[0] if str(locale).startswith("ja") else names[1]
