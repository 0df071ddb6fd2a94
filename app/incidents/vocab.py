"""Controlled vocabularies of an incident, with Japanese and English labels.

Codes are stored; labels are translated (``lazy_gettext``) when shown.
Kinds follow the OECD / AI Incident Database distinction between an AI
incident (harm occurred), an AI hazard (could plausibly lead to harm) and a
near miss; principles are the ten of Japan's AI Guidelines for Business.
"""
from flask_babel import lazy_gettext as _l

KINDS = {
    "incident": _l("AI incident (harm occurred)"),
    "hazard": _l("AI hazard (harm could plausibly occur)"),
    "near_miss": _l("Near miss (caught before harm)"),
}

# Short forms for tables.
KINDS_SHORT = {
    "incident": _l("Incident"),
    "hazard": _l("Hazard"),
    "near_miss": _l("Near miss"),
}

SEVERITIES = {
    "sev1": _l("SEV1 - critical"),
    "sev2": _l("SEV2 - major"),
    "sev3": _l("SEV3 - moderate"),
    "sev4": _l("SEV4 - minor"),
}

HARM_TYPES = {
    "physical": _l("Physical injury or death"),
    "psychological": _l("Psychological harm"),
    "economic": _l("Economic or financial loss"),
    "property": _l("Damage to property"),
    "reputational": _l("Reputational harm"),
    "privacy": _l("Privacy or personal data"),
    "discrimination": _l("Discrimination or unfair bias"),
    "human_rights": _l("Other fundamental rights"),
    "misinformation": _l("Misinformation or manipulation"),
    "public_interest": _l("Harm to the public interest or society"),
    "environmental": _l("Environmental harm"),
    "critical_infrastructure": _l("Disruption of critical infrastructure"),
}

HARMED_PARTIES = {
    "consumers": _l("Consumers or customers"),
    "employees": _l("Employees"),
    "children": _l("Children"),
    "patients": _l("Patients"),
    "businesses": _l("Businesses"),
    "general_public": _l("General public"),
    "public_sector": _l("Government or public bodies"),
    "vulnerable_groups": _l("Vulnerable groups"),
}

SECTORS = {
    "finance": _l("Finance and insurance"),
    "healthcare": _l("Healthcare"),
    "manufacturing": _l("Manufacturing"),
    "transport": _l("Transport and mobility"),
    "energy": _l("Energy and utilities"),
    "retail": _l("Retail and e-commerce"),
    "telecom": _l("Telecommunications and media"),
    "public_sector": _l("Public sector"),
    "education": _l("Education"),
    "employment": _l("Employment and HR"),
    "legal": _l("Legal services"),
    "other": _l("Other"),
}

PRINCIPLES = {
    "human_centric": _l("Human-centric"),
    "safety": _l("Safety"),
    "fairness": _l("Fairness"),
    "privacy": _l("Privacy protection"),
    "security": _l("Ensuring security"),
    "transparency": _l("Transparency"),
    "accountability": _l("Accountability"),
    "education_literacy": _l("Education and literacy"),
    "fair_competition": _l("Ensuring fair competition"),
    "innovation": _l("Innovation"),
}

JURISDICTIONS = {
    "JP": _l("Japan"),
    "EU": _l("European Union"),
    "US": _l("United States"),
    "GB": _l("United Kingdom"),
    "CN": _l("China"),
    "KR": _l("South Korea"),
    "SG": _l("Singapore"),
    "TW": _l("Taiwan"),
    "IN": _l("India"),
    "AU": _l("Australia"),
    "CA": _l("Canada"),
    "OTHER": _l("Other"),
}

STATES = {
    "reported": _l("Reported"),
}

# Limits applied by both the web form and the API.
TITLE_MAX = 200
DESCRIPTION_MAX = 20000
SHORT_TEXT_MAX = 200
MAX_DEATHS = 1_000_000
MAX_HARMED = 1_000_000_000


def label(vocab, code):
    """The translated label of a code, or the code itself when unknown."""
    value = vocab.get(code)
    return str(value) if value is not None else code
