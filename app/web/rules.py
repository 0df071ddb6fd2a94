"""Deadline rules for administrators: the shipped regulatory rules (read-only, with their
sources) and the organisation's own internal targets (add, replace, switch on and off)."""
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp

from app.errors import ValidationFailed
from app.incidents import deadlines
from app.incidents import vocab
from app.incidents.rules_schema import MAX_DAYS, RULE_ID
from app.web import bp
from app.web.forms import REQUIRED, _choices, _one
from app.web.helpers import apply_service_errors, roles_required


class OrgRuleForm(FlaskForm):
    """An internal target: id, labels, conditions on severity, jurisdiction and personal data, period."""

    rule_id = StringField(
        _l("Rule id"), validators=[InputRequired(REQUIRED), Length(max=48),
                                   Regexp(RULE_ID, message=_l("Lower-case letters, digits and hyphens."))],
        description=_l("For example exec-briefing. Saving an existing id replaces that rule. "
                       "jp-ai-promotion replaces the default 1-day executive report target."))
    label_en = StringField(_l("Label (English)"), validators=[InputRequired(REQUIRED), Length(max=200)])
    label_ja = StringField(_l("Label (Japanese)"), validators=[InputRequired(REQUIRED), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    source = StringField(_l("Source"), validators=[Optional(), Length(max=300)],
                         description=_l("The policy this target comes from, e.g. Internal AI governance policy §4."))
    severities = SelectMultipleField(_l("Severities"), choices=_choices(vocab.SEVERITIES),
                                     description=_l("None selected: any severity."))
    jurisdictions = SelectMultipleField(_l("Jurisdictions"), choices=_choices(vocab.JURISDICTIONS),
                                        description=_l("At least one of these; none selected: any."))
    personal_data = SelectField(_l("Personal data involved"), default="")
    amount = IntegerField(_l("Period"), validators=[InputRequired(REQUIRED), NumberRange(min=1, max=MAX_DAYS)])
    unit = SelectField(_l("Unit"), default="days")
    timezone = StringField(_l("Time zone"), validators=[InputRequired(REQUIRED), Length(max=64)],
                           description=_l("A period of days ends at 24:00 in this time zone."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.personal_data.choices = [_one("", _l("Any")), _one("yes", _l("Yes")), _one("no", _l("No"))]
        self.unit.choices = [_one("days", _l("days (end at 24:00)")), _one("hours", _l("hours (exact)"))]

    def rule(self):
        """The form's content as a rule in the rules-file format."""
        conditions = []
        if self.severities.data:
            conditions.append({"fact": "severity", "in": list(self.severities.data)})
        if self.jurisdictions.data:
            conditions.append({"fact": "jurisdictions", "any_of": list(self.jurisdictions.data)})
        if self.personal_data.data in ("yes", "no"):
            conditions.append({"fact": "personal_data", "is": self.personal_data.data == "yes"})
        when = {"all": conditions} if conditions else None  # None: every incident
        text = (self.description.data or "").strip()
        rule = {
            "id": (self.rule_id.data or "").strip(),
            "kind": "internal",
            "label": {"en": self.label_en.data.strip(), "ja": self.label_ja.data.strip()},
            "source": (self.source.data or "").strip() or _("Internal target"),
            "timezone": self.timezone.data.strip(),
            "period": {self.unit.data: self.amount.data},
        }
        if when is not None:
            rule["when"] = when
        if text:
            rule["description"] = {"en": text, "ja": text}
        return rule


class RuleActiveForm(FlaskForm):
    """Switch one rule on or off."""

    active = HiddenField(validators=[InputRequired()])


_ALIASES = {"id": "rule_id", "label.en": "label_en", "label.ja": "label_ja", "timezone": "timezone",
            "period.days": "amount", "period.hours": "amount", "source": "source"}


def _page(form, status=200, problems=()):
    return render_template(
        "rules/index.html", shipped=list(deadlines.shipped_rules().values()), own=deadlines.list_org_rules(),
        form=form, active_form=RuleActiveForm(formdata=None), problems=problems,
    ), status


def _new_form():
    form = OrgRuleForm(formdata=None)
    form.timezone.data = current_user.organisation.timezone or "Asia/Tokyo"
    form.unit.data = "days"
    return form


@bp.get("/admin/rules")
@roles_required("admin")
def admin_rules():
    """The shipped deadline rules and the organisation's own, with the form to add one."""
    return _page(_new_form())


@bp.post("/admin/rules")
@roles_required("admin")
def admin_rule_save():
    """Add or replace one of the organisation's own rules."""
    form = OrgRuleForm()
    problems = []
    if form.validate_on_submit():
        try:
            row = deadlines.save_org_rule(actor=current_user, data=form.rule())
        except ValidationFailed as exc:
            problems = apply_service_errors(form, exc.fields, aliases=_ALIASES)
        else:
            flash(_("The rule %(id)s was saved. It applies from each incident's next recomputation.",
                    id=row.rule_id), "success")
            return redirect(url_for("web.admin_rules"))
    return _page(form, status=422, problems=problems)


@bp.post("/admin/rules/<int:rule_id>/active")
@roles_required("admin")
def admin_rule_active(rule_id):
    """Switch one of the organisation's rules on or off."""
    deadlines.get_org_rule(rule_id)  # another organisation's rule is a 404 before anything else
    form = RuleActiveForm()
    if not form.validate_on_submit() or form.active.data not in ("0", "1"):
        abort(422)
    row = deadlines.set_org_rule_active(actor=current_user, rule_id=rule_id, active=form.active.data == "1")
    if row.active:
        flash(_("The rule %(id)s is active.", id=row.rule_id), "success")
    else:
        flash(_("The rule %(id)s is switched off.", id=row.rule_id), "success")
    return redirect(url_for("web.admin_rules"))
