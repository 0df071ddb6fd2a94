"""Escalation e-mail: composed in the recipient's language, sent over SMTP (smtplib).

Configuration (config.py): ``MAIL_SERVER`` (none: every e-mail delivery fails with "no
SMTP server configured"), ``MAIL_PORT``, ``MAIL_USE_STARTTLS``, ``MAIL_USE_SSL``,
``MAIL_USERNAME`` / ``MAIL_PASSWORD`` (login when set), ``MAIL_FROM``,
``MAIL_TIMEOUT_SECONDS``; links start with ``BASE_URL``.

The Message-ID is made from the delivery id (``<delivery-42@example.jp>``), the same on
every attempt, so a repeat (a worker killed after sending, before recording) can be
recognised and dropped by mail systems and people alike.
"""
import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, formataddr, parseaddr
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale, format_datetime as babel_format_datetime
from flask_babel import gettext as _

from app.db import utcnow
from app.extensions import db
from app.incidents import vocab
from app.orgs.models import Organisation

TEXT_TEMPLATE = "email/escalation.txt"
HTML_TEMPLATE = "email/escalation.html"


class MailError(RuntimeError):
    """An e-mail could not be composed or handed to the SMTP server."""


# ---------------------------------------------------------------- who and in which language


def recipient_entry(escalation, address):
    """The escalation's recipient entry for an e-mail address (``{}`` when not listed)."""
    wanted = (address or "").strip().lower()
    for entry in escalation.recipients or ():
        if entry.get("type") in ("user", "email") and (entry.get("email") or "").lower() == wanted:
            return entry
    return {}


def locale_for(entry, organisation):
    """The recipient's language, else the organisation's default, else the app's."""
    languages = current_app.config.get("LANGUAGES", ("ja", "en"))
    for candidate in (entry.get("locale") if entry.get("type") == "user" else None,
                      organisation.default_locale if organisation else None,
                      current_app.config.get("BABEL_DEFAULT_LOCALE", "ja")):
        if candidate in languages:
            return candidate
    return languages[0]


def message_id(delivery_id):
    """``<delivery-<id>@<domain of MAIL_FROM>>``: the same for every attempt of one delivery."""
    address = parseaddr(current_app.config.get("MAIL_FROM") or "")[1]
    domain = address.rpartition("@")[2] or "localhost"
    return f"<delivery-{delivery_id}@{domain}>"


# ---------------------------------------------------------------- content


def _local_time(value, tz_name):
    if value is None:
        return ""
    try:
        zone = ZoneInfo(tz_name or current_app.config.get("DEFAULT_TIMEZONE", "Asia/Tokyo"))
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    local = value.astimezone(zone)
    return f"{babel_format_datetime(local.replace(tzinfo=None), 'medium', rebase=False)} {local.tzname()}"


def _rule_label(escalation, incident, locale):
    """The deadline rule's label in ``locale`` (with its id), or the rule id."""
    from app.incidents import deadlines

    rule = escalation.rule
    if not rule:
        return ""
    for deadline in incident.deadlines or ():
        if deadline.rule == rule:
            try:
                label = deadlines.label_of(deadline)
            except Exception:  # noqa: BLE001 - a label is not worth a failed e-mail
                return rule
            text = label.get("ja" if locale == "ja" else "en") or label.get("en") or rule
            return text if text == rule else f"{text} ({rule})"
    return rule


def _deadline_due(escalation, incident, tz_name):
    for deadline in incident.deadlines or ():
        if escalation.rule and deadline.rule == escalation.rule:
            return _local_time(deadline.due_at, tz_name)
    return ""


def _state_label(incident, state, locale):
    from app.workflow import engine

    label = engine.state_label(engine.definition_for(incident), state)
    if label is not None:
        return label.get(locale)
    return vocab.label(vocab.STATES, state)


def reason_text(escalation, incident, locale, policy):
    """Why the escalation happened, in words (in the current, forced locale)."""
    detail = escalation.detail or {}
    reason = escalation.reason
    if reason == "filed_severity":
        return _("The incident was filed at severity %(severity)s.",
                 severity=vocab.label(vocab.SEVERITIES, detail.get("severity") or incident.severity))
    if reason == "state_target_passed":
        state = detail.get("state") or (escalation.rule or "").partition(":")[2]
        return _("The response target for the state \"%(state)s\" has passed.",
                 state=_state_label(incident, state, locale))
    if reason == "deadline_progress":
        return _("%(percent)s%% of the time to the deadline \"%(rule)s\" has passed.",
                 percent=detail.get("percent", "?"), rule=_rule_label(escalation, incident, locale))
    if reason == "deadline_overdue":
        return _("The deadline \"%(rule)s\" has passed and it is not met.",
                 rule=_rule_label(escalation, incident, locale))
    if reason == "not_acknowledged":
        previous = policy.level(detail.get("from_level")) if policy and detail.get("from_level") else None
        if previous is not None:
            return _("Nobody at level %(level)s (%(label)s) acknowledged in time.",
                     level=previous.level, label=previous.label.get(locale))
        return _("The previous level did not acknowledge in time.")
    return reason


def context(delivery, escalation, incident, *, organisation, entry, locale):
    """Everything the templates show (call inside ``force_locale(locale)``)."""
    from app.escalation import policy as policies
    from app.escalation.service import ack_token, policy_for

    policy = policies.policies().get(escalation.policy) or policy_for(incident)
    level = policy.level(escalation.level) if policy else None
    base = (current_app.config.get("BASE_URL") or "").rstrip("/")
    tz_name = organisation.timezone if organisation else None
    confidential = bool(incident.confidential)
    title = _("confidential incident") if confidential else incident.title
    level_label = level.label.get(locale) if level else str(escalation.level)
    ack_url = None
    if entry.get("type") == "user" and entry.get("id") is not None:
        ack_url = f"{base}/escalations/ack/{ack_token(escalation, entry['id'])}"
    round_ = delivery.round or 0
    if round_:
        subject = _("[%(level)s] Reminder %(round)s: %(ref)s %(title)s",
                    level=level_label, round=round_, ref=incident.ref, title=title)
    else:
        subject = _("[%(level)s] Escalation: %(ref)s %(title)s", level=level_label, ref=incident.ref, title=title)
    return {
        "subject": subject,
        "locale": locale,
        "recipient_name": entry.get("name") or "",
        "organisation": organisation.name if organisation else "",
        "level": escalation.level,
        "level_label": level_label,
        "external": bool(escalation.external),
        "reason": reason_text(escalation, incident, locale, policy),
        "rule": _rule_label(escalation, incident, locale),
        "due": _deadline_due(escalation, incident, tz_name) if escalation.rule else "",
        "ref": incident.ref,
        "title": None if confidential else incident.title,
        "confidential": confidential,
        "severity": vocab.label(vocab.SEVERITIES, incident.severity),
        "state": _state_label(incident, incident.state, locale),
        "round": round_,
        "escalated_at": _local_time(escalation.created_at, tz_name),
        "incident_url": f"{base}/incidents/{incident.id}",
        "ack_url": ack_url,
        "delivery_id": delivery.id,
    }


def compose(delivery, escalation, incident):
    """The e-mail of one delivery: multipart/alternative (text and HTML), UTF-8."""
    organisation = db.session.get(Organisation, escalation.org_id)
    entry = recipient_entry(escalation, delivery.recipient)
    locale = locale_for(entry, organisation)
    env = current_app.jinja_env
    with force_locale(locale):
        values = context(delivery, escalation, incident, organisation=organisation, entry=entry, locale=locale)
        text = env.get_template(TEXT_TEMPLATE).render(values)
        html = env.get_template(HTML_TEMPLATE).render(values)
    sender = current_app.config.get("MAIL_FROM") or "ai-incidents@localhost"
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["Subject"] = values["subject"]
    msg["From"] = sender
    msg["To"] = formataddr((entry.get("name") or "", delivery.recipient))
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id(delivery.id)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-AIT-Delivery"] = str(delivery.id)
    msg["X-AIT-Escalation"] = str(escalation.id)
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    msg["Content-Language"] = locale  # after the content: set_content() clears Content-* headers
    return msg


# ---------------------------------------------------------------- sending


def _smtp():
    config = current_app.config
    server = config.get("MAIL_SERVER")
    if not server:
        raise MailError("no SMTP server configured (set MAIL_SERVER)")
    port = int(config.get("MAIL_PORT") or (465 if config.get("MAIL_USE_SSL") else 25))
    timeout = config.get("MAIL_TIMEOUT_SECONDS", 10)
    if config.get("MAIL_USE_SSL"):
        smtp = smtplib.SMTP_SSL(server, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(server, port, timeout=timeout)
    try:
        if config.get("MAIL_USE_STARTTLS") and not config.get("MAIL_USE_SSL"):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def deliver(msg, recipient):
    """Hand one message to the SMTP server for one recipient (raises on refusal)."""
    sender = parseaddr(current_app.config.get("MAIL_FROM") or "")[1] or "ai-incidents@localhost"
    smtp = _smtp()
    try:
        refused = smtp.send_message(msg, from_addr=sender, to_addrs=[recipient])
        if refused:
            raise MailError(f"the SMTP server refused {recipient}: {refused[recipient]}")
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def send(delivery, escalation, incident):
    """Compose and send one e-mail delivery."""
    from app.escalation.channels import end_read

    if not current_app.config.get("MAIL_SERVER"):
        raise MailError("no SMTP server configured (set MAIL_SERVER)")
    msg = compose(delivery, escalation, incident)
    recipient = delivery.recipient
    end_read()
    deliver(msg, recipient)
