"""Escalation pages: the incident page's escalations, the open escalations, acknowledging
(a button, or the e-mail's one-click link), in-app notifications and the header badge.

The e-mailed link (``/escalations/ack/<token>``) needs no login: the signed token names the
user and the escalation. Its GET only shows the escalation and one button (mail scanners fetch
links); the POST of that button acknowledges.
"""
from urllib.parse import urlsplit

from flask import flash, g, has_request_context, redirect, render_template, request, session, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.db import utcnow
from app.errors import NotFound, ValidationFailed
from app.escalation import policy as policies
from app.escalation import service as escalation
from app.escalation import views
from app.incidents import deadlines
from app.incidents import vocab
from app.web import bp
from app.tenancy import scoped
from app.web.helpers import roles_required

STAFF = escalation.READ_ROLES
LIST_LIMIT = 100


def _locale():
    return str(get_locale() or "ja")


def _text(label, locale):
    """A ``Label`` or an ``{"en", "ja"}`` dict in the page language."""
    if label is None:
        return ""
    if isinstance(label, dict):
        return label.get(locale) or label.get("en") or ""
    return label.get(locale)


def _policy(name):
    found = policies.policies()
    return found.get(name) or found.get("default")


def level_label(row, locale=None, number=None):
    """The level's label from the escalation's policy, else "Level n"."""
    locale = locale or _locale()
    number = row.level if number is None else number
    policy = _policy(row.policy)
    level = policy.level(number) if policy is not None else None
    return _text(level.label, locale) if level is not None else _("Level %(n)s", n=number)


def _state_label(incident, name):
    from app.web.transitions import state_label

    return state_label(incident, name) if name else ""


def rule_label(rule, incident, locale=None):
    """A deadline rule's (or response target's) label in the page language; '' for none."""
    if not rule:
        return ""
    locale = locale or _locale()
    for d in incident.deadlines or ():
        if d.rule == rule:
            return _text(deadlines.label_of(d), locale) or rule
    shipped = deadlines.shipped_rules().get(rule)
    if shipped:
        return _text(shipped.get("label"), locale) or rule
    if rule.startswith(deadlines.STATE_TARGET_PREFIX):
        return _("Response target: %(state)s", state=_state_label(incident, rule[len(deadlines.STATE_TARGET_PREFIX):]))
    return rule


def reason_text(row, incident, locale=None):
    """Why the escalation happened, in words."""
    locale = locale or _locale()
    detail = row.detail or {}
    if row.reason == escalation.REASON_FILED:
        severity = detail.get("severity") or incident.severity
        return _("Filed at severity %(severity)s", severity=vocab.label(vocab.SEVERITIES, severity))
    if row.reason == escalation.REASON_TARGET:
        state = detail.get("state") or (row.rule or "").split(":", 1)[-1]
        return _("The response target of the state %(state)s passed", state=_state_label(incident, state))
    if row.reason == escalation.REASON_PROGRESS:
        return _("%(percent)s%% of the time for %(rule)s has passed", percent=detail.get("percent", "?"),
                 rule=rule_label(row.rule, incident, locale))
    if row.reason == escalation.REASON_OVERDUE:
        return _("Deadline passed: %(rule)s", rule=rule_label(row.rule, incident, locale))
    if row.reason == escalation.REASON_NO_ACK:
        source = detail.get("from_level")
        if source is None:
            return _("Not acknowledged in time at the level below")
        return _("Not acknowledged in time at level %(n)s (%(label)s)", n=source,
                 label=level_label(row, locale, number=source))
    return row.reason


CHANNELS = {"in_app": lambda: _("In-app"), "email": lambda: _("E-mail"), "webhook": lambda: _("Webhook")}
STATUSES = {"pending": lambda: _("Pending"), "sent": lambda: _("Sent"), "failed": lambda: _("Failed")}


class DeliveryView:
    """One delivery as the incident page shows it."""

    def __init__(self, delivery, names):
        self.channel = CHANNELS[delivery.channel]() if delivery.channel in CHANNELS else delivery.channel
        self.status = delivery.status
        self.status_label = STATUSES[delivery.status]() if delivery.status in STATUSES else delivery.status
        self.attempts = delivery.attempts
        self.round = delivery.round
        self.last_error = delivery.last_error or ""
        self.sent_at = delivery.sent_at
        self.next_attempt_at = delivery.next_attempt_at if delivery.status == "pending" else None
        kind, _sep, ident = delivery.recipient.partition(":")
        if kind == "user" and ident.isdigit():
            self.recipient = names.get(int(ident)) or _("User %(id)s", id=ident)
        elif kind == "webhook" and ident.isdigit():
            self.recipient = _("Webhook %(id)s", id=ident)
        else:
            self.recipient = delivery.recipient


class EscalationView:
    """One escalation as the pages show it (texts in the page language)."""

    def __init__(self, row, incident, locale=None, now=None):
        locale = locale or _locale()
        self.row, self.incident = row, incident
        self.id, self.level, self.external = row.id, row.level, row.external
        self.level_label = level_label(row, locale)
        self.reason = reason_text(row, incident, locale)
        self.rule = row.rule
        self.rule_label = rule_label(row.rule, incident, locale) if row.rule else ""
        self.created_at = row.created_at
        self.age = deadlines.duration_text(max(0, ((now or utcnow()) - row.created_at).total_seconds()))
        self.acknowledged_at = row.acknowledged_at
        self.acknowledged_by = row.acknowledged_by.name if row.acknowledged_by is not None else ""
        self.people, self.authorities = [], []
        names = {}
        for r in row.recipients or ():
            if r.get("type") == "user":
                names[r.get("id")] = r.get("name") or r.get("email") or ""
                self.people.append(names[r.get("id")])
            elif r.get("type") == "email":
                self.people.append(r.get("email", ""))
            elif r.get("type") == "authority":
                self.authorities.append(_text(r.get("name"), locale) or r.get("rule") or _("External authority"))
        self._names = names

    @property
    def deliveries(self):
        return [DeliveryView(d, self._names) for d in self.row.deliveries]

    @property
    def failed_deliveries(self):
        return sum(1 for d in self.row.deliveries if d.status == "failed")


def incident_escalations(incident):
    """The incident's escalations for staff (``[]`` for other roles), oldest first."""
    if not current_user.is_authenticated or current_user.role not in STAFF:
        return []
    rows = escalation.list_for_incident(actor=current_user, incident_id=incident.id)
    locale, now = _locale(), utcnow()
    return [EscalationView(r, incident, locale, now) for r in rows]


def can_acknowledge(user):
    return user.is_authenticated and user.role in escalation.ACK_ROLES


@bp.app_context_processor
def _inject_escalation_helpers():
    unread = None
    if has_request_context() and current_user.is_authenticated:
        unread = _unread_count()
    return {
        "incident_escalations": incident_escalations,
        "can_acknowledge": can_acknowledge,
        "is_staff": lambda user: user.is_authenticated and user.role in STAFF,
        "unread_notifications": unread,
    }


def _unread_count():
    """The header badge: one COUNT query per request (kept on ``g``)."""
    if "unread_notifications" not in g:
        g.unread_notifications = escalation.unread_badge(current_user)
    return g.unread_notifications


def _safe_next(value, default):
    """A local path to go back to, else ``default``."""
    if value and value.startswith("/") and not value.startswith("//"):
        parts = urlsplit(value)
        if not parts.scheme and not parts.netloc and "\\" not in value:
            return value
    return default


# ---------------------------------------------------------------- acknowledging with the button


@bp.post("/escalations/<int:escalation_id>/acknowledge")
@roles_required(*escalation.ACK_ROLES)
def escalation_acknowledge(escalation_id):
    """Acknowledge one escalation, then go back (the incident page unless ``next`` says otherwise)."""
    before = escalation.get_escalation(actor=current_user, escalation_id=escalation_id)  # 404 first
    back = _safe_next(request.form.get("next"), url_for("web.incident_detail", incident_id=before.incident_id))
    if before.acknowledged_at is not None:
        flash(_("This escalation was already acknowledged by %(name)s.",
                name=before.acknowledged_by.name if before.acknowledged_by else _("someone")), "success")
        return redirect(back)
    row = escalation.acknowledge(actor=current_user, escalation_id=escalation_id, via="web")
    if row.acknowledged_by_id == current_user.id:
        flash(_("Escalation acknowledged: %(level)s.", level=level_label(row)), "success")
    else:
        flash(_("This escalation was already acknowledged by %(name)s.",
                name=row.acknowledged_by.name if row.acknowledged_by else _("someone")), "success")
    return redirect(back)


# ---------------------------------------------------------------- the open escalations


@bp.get("/escalations")
@roles_required(*STAFF)
def escalations_page():
    """The organisation's unacknowledged escalations, newest first, with acknowledge buttons."""
    locale, now = _locale(), utcnow()
    items = [EscalationView(e, i, locale, now) for e, i in views.open_with_incidents(actor=current_user,
                                                                                    limit=LIST_LIMIT)]
    return render_template("escalations/list.html", items=items, limit=LIST_LIMIT)


# ---------------------------------------------------------------- notifications


@bp.get("/notifications")
@login_required
def notifications_page():
    """The user's in-app notifications, newest first, unread ones marked."""
    locale, now = _locale(), utcnow()
    items = []
    for note, row, incident in escalation.notifications(actor=current_user, limit=LIST_LIMIT):
        items.append({"note": note, "unread": note.read_at is None, "incident": incident,
                      "escalation": EscalationView(row, incident, locale, now)})
    return render_template("escalations/notifications.html", items=items)


@bp.post("/notifications/read")
@login_required
def notifications_mark_read():
    """Mark every notification of the user read."""
    n = escalation.mark_read(actor=current_user)
    if n:
        flash(_("%(n)s notifications marked as read.", n=n), "success")
    else:
        flash(_("No unread notifications."), "success")
    return redirect(url_for("web.notifications_page"))


# ---------------------------------------------------------------- the e-mailed link


def _invalid_link(status, message):
    return render_template("escalations/ack_invalid.html", status=status, message=message), status


def _link_locale(link):
    """The page language: the visitor's choice, else the link's user's, else Accept-Language."""
    if current_user.is_authenticated or session.get("locale"):
        return _locale()
    if link.user.locale in ("ja", "en"):
        return link.user.locale
    return _locale()


@bp.route("/escalations/ack/<token>", methods=["GET", "POST"])
def escalation_ack_link(token):
    """GET: the escalation and one Acknowledge button (no change). POST: acknowledge as the link's user."""
    try:
        link = views.ack_link(token)
    except ValidationFailed:
        return _invalid_link(400, _("This acknowledgement link has expired. Sign in and acknowledge the "
                                    "escalation from the incident page."))
    except NotFound:
        return _invalid_link(404, _("This acknowledgement link is not valid. Check that the whole link was "
                                    "copied, or sign in and acknowledge from the incident page."))
    g.org_timezone = link.org.timezone
    with scoped(link.org.id):
        return _ack_page(token, link)


def _ack_page(token, link):
    done = already = False
    if request.method == "POST":
        if link.escalation.acknowledged_at is not None:
            already = True
        else:
            try:
                row = escalation.acknowledge_by_token(token)
            except ValidationFailed:
                return _invalid_link(400, _("This acknowledgement link has expired. Sign in and acknowledge "
                                            "the escalation from the incident page."))
            link = views.ack_link(token)
            done = row.acknowledged_by_id == link.user.id
            already = not done
    elif link.escalation.acknowledged_at is not None:
        already = True
    with force_locale(_link_locale(link)):
        view = EscalationView(link.escalation, link.incident)
        return render_template("escalations/ack.html", link=link, e=view, done=done, already=already,
                               token=token)
