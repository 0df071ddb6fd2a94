"""WTForms forms of the web pages, with Japanese and English labels and help text.

Forms check shape (required, types, choices, dates in order); the services stay the
authority on the rules and their field errors are mapped back onto the form
(:func:`app.web.helpers.apply_service_errors`).
"""
from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField, DateTimeLocalField, EmailField, HiddenField, IntegerField, PasswordField,
    SelectField, SelectMultipleField, StringField, TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange, Optional, ValidationError

from app import i18n
from app.incidents import vocab
from app.orgs.models import LOCALES, ROLES
from app.systems import vocab as system_vocab
from app.web.labels import LOCALE_LABELS, ROLE_LABELS

REQUIRED = _l("Required.")
DT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


try:  # WTForms 3.3 deprecates (value, label) tuples
    from wtforms.fields.choices import SelectChoice as _Choice
except ImportError:  # pragma: no cover - older WTForms
    def _Choice(value, label):
        return (value, label)


def _choices(labels):
    return [_Choice(code, label) for code, label in labels.items()]


def _one(value, label):
    return _Choice(value, label)


def _int_or_none(value):
    if value in (None, ""):
        return None
    return int(value)


class LoginForm(FlaskForm):
    """E-mail and password."""

    email = EmailField(_l("E-mail"), validators=[DataRequired(REQUIRED), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), Length(max=128)])


DASHBOARD_FILTERS = (
    "open", "filed_since", "filed_until", "acknowledged_since", "acknowledged_until", "resolved_since",
    "resolved_until", "principle", "actor_role", "overdue", "due_within_days", "target",
    "target_due_since", "target_due_until",
)


class IncidentFilterForm(FlaskForm):
    """The filters of the incident list (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=200)])
    state = SelectField(_l("State"), validators=[Optional()])
    severity = SelectField(_l("Severity"), validators=[Optional()])
    kind = SelectField(_l("Kind"), validators=[Optional()])
    ai_system_id = SelectField(_l("AI system"), validators=[Optional()])
    jurisdiction = SelectField(_l("Jurisdiction"), validators=[Optional()])
    harm_type = SelectField(_l("Harm type"), validators=[Optional()])

    def __init__(self, *args, systems=(), **kwargs):
        super().__init__(*args, **kwargs)
        anyone = [_one("", _l("All"))]
        self.state.choices = anyone + _choices(vocab.STATES)
        self.severity.choices = anyone + _choices(vocab.SEVERITIES)
        self.kind.choices = anyone + _choices(vocab.KINDS)
        self.ai_system_id.choices = anyone + [_one(str(s.id), s.name) for s in systems]
        self.jurisdiction.choices = anyone + _choices(vocab.JURISDICTIONS)
        self.harm_type.choices = anyone + _choices(vocab.HARM_TYPES)

    def filters(self):
        """The valid filters as the incidents service takes them."""
        out = {}
        for name in ("q", "state", "severity", "kind", "jurisdiction", "harm_type"):
            field = getattr(self, name)
            if field.data and not field.errors:
                out[name] = field.data.strip() if name == "q" else field.data
        if self.ai_system_id.data and str(self.ai_system_id.data).isdigit():
            out["ai_system_id"] = int(self.ai_system_id.data)
        # The dashboard links to the incidents behind each figure with these (the service checks them).
        for key in DASHBOARD_FILTERS:
            value = request.args.get(key, "").strip()
            if value:
                out[key] = value[:64]
        if request.args.get("ai_system_id") == "none":
            out["ai_system_id"] = "none"
        return out


class IncidentForm(FlaskForm):
    """Every intake fact of an incident (the same form edits one, with its version)."""

    title = StringField(
        _l("Title"), validators=[InputRequired(REQUIRED), Length(max=vocab.TITLE_MAX)],
        description=_l("One line that says what went wrong, e.g. \"Chatbot disclosed another customer's order\"."))
    description = TextAreaField(
        _l("What happened"), validators=[InputRequired(REQUIRED), Length(max=vocab.DESCRIPTION_MAX)],
        description=_l("What the AI system did, who was affected, how it was noticed and what has been done so far."))
    kind = SelectField(
        _l("Kind"), choices=_choices(vocab.KINDS), default="incident",
        description=_l("Incident: harm occurred. Hazard: harm could plausibly occur. Near miss: caught before any harm (OECD / AI Incident Database definitions)."))
    severity = SelectField(
        _l("Severity"), validators=[InputRequired(REQUIRED)],
        description=_l("SEV1 is the most severe: deaths, serious injury, a large-scale leak or a halt of critical services."))
    occurred_at = DateTimeLocalField(
        _l("Occurred at"), format=DT_FORMATS, validators=[InputRequired(REQUIRED)],
        description=_l("When the incident happened (your best estimate), in the organisation's time zone."))
    aware_at = DateTimeLocalField(
        _l("Became aware at"), format=DT_FORMATS, validators=[InputRequired(REQUIRED)],
        description=_l("When the organisation first knew of it. Regulatory deadlines run from this moment: the APPI report to the PPC (about 3 days, final within 30), GDPR 72 hours, the EU AI Act serious-incident report."))
    ai_system_id = SelectField(
        _l("AI system"), coerce=_int_or_none, validate_choice=False,
        description=_l("The system from the AI inventory involved, if known."))
    harm_types = SelectMultipleField(
        _l("Types of harm"), choices=_choices(vocab.HARM_TYPES),
        description=_l("Every kind of harm that occurred or could occur."))
    harmed_parties = SelectMultipleField(
        _l("Harmed parties"), choices=_choices(vocab.HARMED_PARTIES),
        description=_l("Who was or could be harmed."))
    harmed_count = IntegerField(
        _l("Number of people affected"), validators=[Optional(), NumberRange(min=0, max=vocab.MAX_HARMED)],
        description=_l("An estimate is fine; leave empty if unknown."))
    sector = SelectField(
        _l("Sector"), description=_l("The business sector where the harm occurred."))
    principles = SelectMultipleField(
        _l("AI Guidelines for Business principles"), choices=_choices(vocab.PRINCIPLES),
        description=_l("The principles of Japan's AI Guidelines for Business (METI/MIC) that the incident touches."))
    jurisdictions = SelectMultipleField(
        _l("Jurisdictions"), choices=_choices(vocab.JURISDICTIONS),
        description=_l("Where the affected people or operations are. Japan and the EU trigger the reporting deadlines."))
    personal_data = BooleanField(
        _l("Personal data involved"),
        description=_l("Personal information was leaked, lost, damaged or misused (APPI Art. 26 and GDPR Art. 33 reports may be due)."))
    deaths = IntegerField(
        _l("Deaths"), default=0, validators=[Optional(), NumberRange(min=0, max=vocab.MAX_DEATHS)],
        description=_l("Deaths caused or possibly caused by the incident (shortens the EU AI Act deadline to 10 days)."))
    critical_infrastructure = BooleanField(
        _l("Critical infrastructure disrupted"),
        description=_l("Serious and irreversible disruption of the management or operation of critical infrastructure."))
    widespread_infringement = BooleanField(
        _l("Widespread infringement"),
        description=_l("Affects many people or several countries (EU AI Act: report within 2 days)."))
    serious_incident = BooleanField(
        _l("Serious incident"),
        description=_l("Serious harm to health, property, the environment or fundamental rights (EU AI Act Art. 3(49))."))
    wrongful_purpose = BooleanField(
        _l("Wrongful purpose"),
        description=_l("Caused by unauthorised access or other acts for a wrongful purpose (APPI final report within 60 days)."))
    confidential = BooleanField(
        _l("File confidentially"),
        description=_l("Your name is shown to administrators only."))

    CHECKBOX_GROUPS = ("harm_types", "harmed_parties", "principles", "jurisdictions")
    FLAGS = ("personal_data", "critical_infrastructure", "widespread_infringement",
             "serious_incident", "wrongful_purpose", "confidential")

    def __init__(self, *args, systems=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.severity.choices = [_one("", _l("Choose a severity"))] + _choices(vocab.SEVERITIES)
        self.sector.choices = [_one("", _l("Not specified"))] + _choices(vocab.SECTORS)
        self.ai_system_id.choices = [_one("", _l("None or unknown"))] + [_one(s.id, s.name) for s in systems]

    def _local(self, field):
        if field.data is None:
            return None
        return i18n.parse_local(field.data.isoformat())

    def validate_occurred_at(self, field):
        """Not in the future."""
        value = self._local(field)
        if value is not None and value > _now_utc():
            raise ValidationError(_l("Cannot be in the future."))

    def validate_aware_at(self, field):
        """Not in the future, and not before the incident occurred."""
        value = self._local(field)
        if value is None:
            return
        if value > _now_utc():
            raise ValidationError(_l("Cannot be in the future."))
        occurred = self._local(self.occurred_at) if not self.occurred_at.errors else None
        if occurred is not None and value < occurred:
            raise ValidationError(_l("Must be at or after the time it occurred."))

    def to_data(self):
        """The facts as the incidents service takes them (times in UTC)."""
        data = {
            "title": self.title.data or "",
            "description": self.description.data or "",
            "kind": self.kind.data,
            "severity": self.severity.data,
            "occurred_at": self._local(self.occurred_at),
            "aware_at": self._local(self.aware_at),
            "ai_system_id": self.ai_system_id.data,
            "harmed_count": self.harmed_count.data,
            "sector": self.sector.data or None,
            "deaths": self.deaths.data or 0,
        }
        for name in self.CHECKBOX_GROUPS:
            data[name] = list(getattr(self, name).data or [])
        for name in self.FLAGS:
            data[name] = bool(getattr(self, name).data)
        return data


class IncidentEditForm(IncidentForm):
    """The intake form plus the version the editor read (optimistic concurrency)."""

    version = HiddenField()


def _now_utc():
    from app.db import utcnow

    return utcnow()


class SystemForm(FlaskForm):
    """An entry of the AI system inventory."""

    name = StringField(_l("Name"), validators=[InputRequired(REQUIRED), Length(max=200)],
                       description=_l("The name people in the organisation use for the system."))
    purpose = TextAreaField(_l("Purpose"), validators=[Length(max=5000)],
                            description=_l("What the system is used for and by whom."))
    actor_role = SelectField(
        _l("Our role"), choices=_choices(system_vocab.ACTOR_ROLE_LABELS), default="business_user",
        description=_l("Our role for this system under the AI Guidelines for Business: developer (builds the model), provider (offers it in a product or service) or business user (uses it in our work)."))
    developer = StringField(_l("Developer or vendor"), validators=[Length(max=200)],
                            description=_l("Who built the system or the model."))
    model_name = StringField(_l("Model"), validators=[Length(max=200)],
                             description=_l("The underlying AI model, e.g. a foundation model's name."))
    model_version = StringField(_l("Model version"), validators=[Length(max=100)])
    training_sources = TextAreaField(_l("Training data sources"), validators=[Length(max=5000)],
                                     description=_l("Where the training and fine-tuning data came from, as far as known."))
    deployment_context = TextAreaField(_l("Deployment context"), validators=[Length(max=5000)],
                                       description=_l("Where and how the system is deployed: users, channels, countries, human oversight."))
    owner_id = SelectField(_l("Owner"), coerce=_int_or_none, validate_choice=False,
                           description=_l("The person accountable for the system."))
    risk_level = SelectField(_l("Risk level"), choices=_choices(system_vocab.RISK_LEVEL_LABELS), default="limited",
                             description=_l("The organisation's own assessment of the system's risk."))
    eu_high_risk = BooleanField(_l("High-risk under the EU AI Act"),
                                description=_l("Listed in Annex III or a safety component under Annex I of the EU AI Act."))
    status = SelectField(_l("Status"), choices=_choices(system_vocab.STATUS_LABELS), default="in_use")

    def __init__(self, *args, users=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.owner_id.choices = [_one("", _l("No owner"))] + [_one(u.id, f"{u.name} <{u.email}>") for u in users]

    def to_data(self):
        """The facts as the systems service takes them."""
        keys = ("name", "purpose", "actor_role", "developer", "model_name", "model_version",
                "training_sources", "deployment_context", "risk_level", "status")
        data = {key: getattr(self, key).data or "" for key in keys}
        data["eu_high_risk"] = bool(self.eu_high_risk.data)
        data["owner_id"] = self.owner_id.data
        return data


class InviteForm(FlaskForm):
    """Invite a person to the organisation."""

    email = EmailField(_l("E-mail"), validators=[InputRequired(REQUIRED), Length(max=254)])
    name = StringField(_l("Name"), validators=[Length(max=200)])
    role = SelectField(_l("Role"), choices=[_one(r, ROLE_LABELS[r]) for r in ROLES], default="reporter")
    locale = SelectField(_l("Language"), validators=[Optional()], choices=[_one("", _l("Browser default"))] + [_one(loc, LOCALE_LABELS[loc]) for loc in LOCALES])


class RoleForm(FlaskForm):
    """Change one user's role."""

    role = SelectField(_l("Role"), choices=[_one(r, ROLE_LABELS[r]) for r in ROLES])


class ActiveForm(FlaskForm):
    """Deactivate or reactivate one user."""

    active = HiddenField(validators=[InputRequired()])


class AcceptInviteForm(FlaskForm):
    """The invitee chooses a password."""

    password = PasswordField(_l("New password"), validators=[InputRequired(REQUIRED), Length(max=128)],
                             description=_l("At least 12 characters. A passphrase of several words is easy to remember."))
    confirm = PasswordField(_l("Repeat the password"),
                            validators=[InputRequired(REQUIRED), EqualTo("password", _l("The passwords do not match."))])


class TokenForm(FlaskForm):
    """Create an API token."""

    name = StringField(_l("Token name"), validators=[InputRequired(REQUIRED), Length(max=100)],
                       description=_l("What the token is for, e.g. the script or system that uses it."))


class EmptyForm(FlaskForm):
    """A form with only its CSRF token (buttons that post)."""


class PasswordChangeForm(FlaskForm):
    """Change one's own password."""

    current_password = PasswordField(_l("Current password"), validators=[InputRequired(REQUIRED), Length(max=128)])
    new_password = PasswordField(_l("New password"), validators=[InputRequired(REQUIRED), Length(max=128)],
                                 description=_l("At least 12 characters. Every session, on every device, ends after the change."))
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[InputRequired(REQUIRED), EqualTo("new_password", _l("The passwords do not match."))])

