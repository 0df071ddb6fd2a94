"""Labels of the AI system inventory's codes, in Japanese and English.

Actor roles follow Japan's AI Guidelines for Business (METI/MIC): AI developer
(開発者), AI provider (提供者) and AI business user (利用者).
"""
from flask_babel import lazy_gettext as _l

from app.systems.models import ACTOR_ROLES, RISK_LEVELS, STATUSES

ACTOR_ROLE_LABELS = {
    "developer": _l("AI developer"),
    "provider": _l("AI provider"),
    "business_user": _l("AI business user"),
}

RISK_LEVEL_LABELS = {
    "minimal": _l("Minimal risk"),
    "limited": _l("Limited risk"),
    "high": _l("High risk"),
    "unacceptable": _l("Unacceptable risk"),
}

STATUS_LABELS = {
    "planned": _l("Planned"),
    "in_use": _l("In use"),
    "suspended": _l("Suspended"),
    "retired": _l("Retired"),
}

assert set(ACTOR_ROLE_LABELS) == set(ACTOR_ROLES)
assert set(RISK_LEVEL_LABELS) == set(RISK_LEVELS)
assert set(STATUS_LABELS) == set(STATUSES)
