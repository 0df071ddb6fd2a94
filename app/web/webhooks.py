"""Webhook endpoints for administrators: list, add (secret shown once), deactivate, rotate
the secret (shown once), send a test ping."""
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, URLField
from wtforms.validators import InputRequired, Length, Optional, Regexp

from app.errors import Conflict, ValidationFailed
from app.escalation import endpoints
from app.web import bp
from app.web.forms import REQUIRED, EmptyForm, _one
from app.web.helpers import apply_service_errors, roles_required


def _level_labels():
    """``{1: "Level 1: Response lead", ...}`` for 1-9, named after the default policy's levels."""
    from flask_babel import get_locale

    from app.escalation import policy as policies

    try:
        policy = policies.policies().get("default")
    except Exception:  # noqa: BLE001 - the numbers alone still work
        policy = None
    locale = str(get_locale() or "ja")
    labels = {}
    for n in range(endpoints.MIN_LEVEL, endpoints.MAX_LEVEL + 1):
        level = policy.level(n) if policy else None
        labels[n] = _("Level %(n)s: %(label)s", n=n, label=level.label.get(locale)) if level else _("Level %(n)s", n=n)
    return labels


class WebhookForm(FlaskForm):
    """A new webhook endpoint."""

    url = URLField(
        _l("URL"),
        validators=[InputRequired(REQUIRED), Length(max=endpoints.URL_MAX),
                    Regexp(r"(?i)^https?://[^\s/?#]+[^\s]*$",
                           message=_l("Enter an https:// (or http://) URL with a host name."))],
        description=_l("The receiver's address. Every request is signed with the endpoint's secret."))
    description = StringField(_l("Description"), validators=[Optional(), Length(max=endpoints.DESCRIPTION_MAX)],
                              description=_l("For example: the on-call chat channel."))
    min_level = SelectField(_l("Lowest level sent"), default="1",
                            description=_l("Escalations below this level are not sent to this endpoint."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.min_level.choices = [_one(str(n), text) for n, text in _level_labels().items()]


# The services' English messages as the page's language shows them.
_MESSAGES = {
    endpoints.MSG_URL_SCHEME: lambda: _("Enter an https:// (or http://) URL with a host name."),
    endpoints.MSG_LEVEL: lambda: _("Choose a level from 1 to 9."),
}


def _service_errors(form, fields):
    translated = {name: [_MESSAGES[m]() if m in _MESSAGES else m for m in messages]
                  for name, messages in (fields or {}).items()}
    return apply_service_errors(form, translated)


def _page(form, *, secret=None, secret_for=None, status=200, problems=()):
    rows = endpoints.list_endpoints(actor=current_user)
    headers = {"Cache-Control": "no-store"} if secret else {}
    return render_template(
        "webhooks/list.html", endpoints=rows, form=form, secret=secret, secret_for=secret_for,
        button_form=EmptyForm(formdata=None), hint=endpoints.secret_hint, problems=problems,
        levels=_level_labels(),
    ), status, headers


@bp.get("/admin/webhooks")
@roles_required("admin")
def webhooks_page():
    """The organisation's webhook endpoints, with the form to add one."""
    return _page(WebhookForm(formdata=None))


@bp.post("/admin/webhooks")
@roles_required("admin")
def webhook_create():
    """Add an endpoint; its secret appears on this answer only."""
    form = WebhookForm()
    problems = []
    if form.validate_on_submit():
        try:
            endpoint, secret = endpoints.create_endpoint(actor=current_user, data={
                "url": form.url.data, "description": form.description.data or "",
                "min_level": int(form.min_level.data)})
        except ValidationFailed as exc:
            problems = _service_errors(form, exc.fields)
        else:
            flash(_("The webhook endpoint %(url)s was added.", url=endpoint.url), "success")
            return _page(WebhookForm(formdata=None), secret=secret, secret_for=endpoint.url)
    return _page(form, status=422, problems=problems)


def _button(webhook_id):
    """The endpoint (404 when not the organisation's) once the button's CSRF token checks out."""
    endpoints.get_endpoint(actor=current_user, webhook_id=webhook_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)


@bp.post("/admin/webhooks/<int:webhook_id>/deactivate")
@roles_required("admin")
def webhook_deactivate(webhook_id):
    """Stop sending to an endpoint."""
    _button(webhook_id)
    endpoint = endpoints.deactivate_endpoint(actor=current_user, webhook_id=webhook_id)
    flash(_("The webhook endpoint %(url)s was deactivated.", url=endpoint.url), "success")
    return redirect(url_for("web.webhooks_page"))


@bp.post("/admin/webhooks/<int:webhook_id>/rotate")
@roles_required("admin")
def webhook_rotate(webhook_id):
    """A new secret (shown on this answer only); the old one stops working at once."""
    _button(webhook_id)
    try:
        endpoint, secret = endpoints.rotate_secret(actor=current_user, webhook_id=webhook_id)
    except Conflict:
        flash(_("A deactivated endpoint has no secret to rotate."), "error")
        return redirect(url_for("web.webhooks_page"))
    flash(_("The secret of %(url)s was replaced; the old one no longer signs anything.", url=endpoint.url),
          "success")
    return _page(WebhookForm(formdata=None), secret=secret, secret_for=endpoint.url)


@bp.post("/admin/webhooks/<int:webhook_id>/test")
@roles_required("admin")
def webhook_test(webhook_id):
    """Send a signed test ping now and say how the receiver answered."""
    _button(webhook_id)
    result = endpoints.send_test(actor=current_user, webhook_id=webhook_id)
    if result["ok"]:
        flash(_("The test ping was answered with HTTP %(status)s in %(ms)s ms.", status=result["status"],
                ms=result["ms"]), "success")
    else:
        flash(_("The test ping failed: %(error)s", error=result["error"]), "error")
    return redirect(url_for("web.webhooks_page"))
