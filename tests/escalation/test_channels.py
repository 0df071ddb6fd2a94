"""E-mail and webhook channels against real servers: an SMTP server (aiosmtpd) and an HTTP
receiver that verifies signatures with ``app.escalation.webhooks.verify``.

A sev1 filing records escalations at levels 1 (response leads) and 3 (executives) with
pending e-mail and webhook deliveries; the delivery job sends them (in tests it runs on
the in-process thread after the commit) and is run again by hand: nothing goes twice.
"""
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.db import utcnow
from app.escalation import email as mail
from app.escalation import endpoints, webhooks
from app.escalation.delivery import DeliveryFailed, deliver_escalation, deliver_one
from app.escalation.models import Delivery, Escalation
from app.escalation.service import read_ack_token
from app.extensions import db
from app.incidents import service as incidents
from app.incidents.models import Incident
from app.ledger.models import LedgerEntry
from app.orgs import service as orgs
from app.queue import wait_for_jobs
from app.tenancy import scoped
from tests.conftest import incident_payload
from tests.escalation._servers import Receiver, SmtpServer, free_port

BASE = "https://tracker.example.jp"
SENDER = "AI Incident Tracker <alerts@tracker.example.jp>"
TITLE = "Credit model rejected every applicant from one prefecture"


def _data(**overrides):
    payload = incident_payload(severity="sev1", title=TITLE, **overrides)
    return {k: datetime.fromisoformat(v) if k.endswith("_at") else v for k, v in payload.items()}


def file_sev1(app, org, reporter_id, **overrides):
    """File a sev1 incident as the reporter, then run its delivery jobs; returns its id."""
    with app.app_context(), scoped(org.id):
        incident = incidents.file_incident(actor=orgs.get_user(reporter_id), data=_data(**overrides))
        incident_id = incident.id
        db.session.remove()
    run_job(app, org, incident_id)
    return incident_id


def escalations_of(app, org, incident_id):
    with app.app_context(), scoped(org.id):
        rows = db.session.execute(select(Escalation).where(Escalation.incident_id == incident_id)
                                  .order_by(Escalation.level)).unique().scalars().all()
        out = [SimpleNamespace(id=e.id, level=e.level, org_id=e.org_id) for e in rows]
        db.session.remove()
    return out


def deliveries(app, org, channel=None):
    with app.app_context(), scoped(org.id):
        stmt = select(Delivery).order_by(Delivery.id)
        if channel:
            stmt = stmt.where(Delivery.channel == channel)
        rows = [SimpleNamespace(**{c: getattr(d, c) for c in (
            "id", "escalation_id", "channel", "recipient", "round", "status", "attempts", "last_error",
            "next_attempt_at", "sent_at")}) for d in db.session.execute(stmt).scalars()]
        db.session.remove()
    return rows


def run_job(app, org, incident_id):
    """The delivery job for each of the incident's escalations, as a worker runs it.

    Returns the failures the job reported (it raises DeliveryFailed so RQ retries it).
    """
    failures = []
    for e in escalations_of(app, org, incident_id):
        with app.app_context():
            try:
                deliver_escalation(org.id, e.id)
            except DeliveryFailed as exc:
                failures.append(str(exc))
            db.session.remove()
    return failures


@pytest.fixture(autouse=True)
def _jobs_run_by_the_tests(app, monkeypatch):
    """No delivery job on the in-process thread: each test runs the job itself."""
    monkeypatch.setitem(app.config, "DELIVERY_JOBS_ENABLED", False)
    yield
    assert wait_for_jobs(20)


@pytest.fixture
def mail_config(app, monkeypatch):
    """Point e-mail at a local port (``mail_config(port)``) and links at BASE."""

    def configure(port):
        monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
        monkeypatch.setitem(app.config, "MAIL_PORT", port)
        monkeypatch.setitem(app.config, "MAIL_FROM", SENDER)
        monkeypatch.setitem(app.config, "MAIL_USE_STARTTLS", False)
        monkeypatch.setitem(app.config, "MAIL_USE_SSL", False)
        monkeypatch.setitem(app.config, "MAIL_USERNAME", None)
        monkeypatch.setitem(app.config, "MAIL_TIMEOUT_SECONDS", 5)

    monkeypatch.setitem(app.config, "BASE_URL", BASE + "/")
    return configure


@pytest.fixture
def smtp(mail_config):
    server = SmtpServer().start()
    mail_config(server.port)
    yield server
    server.stop()


@pytest.fixture
def receiver(app, monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", BASE)
    monkeypatch.setitem(app.config, "WEBHOOK_TIMEOUT_SECONDS", 5)
    server = Receiver().start()
    yield server
    server.stop()


def _parts(message):
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return text, html


# ---------------------------------------------------------------- e-mail


def test_email_in_each_recipients_language_with_ack_link(app, factory, smtp):
    org = factory.org()
    lead = factory.user(org, "lead", locale="ja", name="山田 花子")
    executive = factory.user(org, "executive", locale="en", name="Ken Sato")
    reporter = factory.user(org, "reporter")
    incident_id = file_sev1(app, org, reporter.id)
    run_job(app, org, incident_id)  # a second run sends nothing again

    level1, level3 = escalations_of(app, org, incident_id)
    assert (level1.level, level3.level) == (1, 3)
    sent = {d.recipient: d for d in deliveries(app, org, "email")}
    assert set(sent) == {lead.email, executive.email}
    assert all(d.status == "sent" and d.attempts == 1 and d.last_error == "" for d in sent.values())
    assert len(smtp.mailbox.messages) == 2

    # The lead, in Japanese.
    [(mail_from, rcpt, ja)] = [m for m in smtp.mailbox.messages if m[1] == [lead.email]]
    assert mail_from == "alerts@tracker.example.jp"
    assert ja["To"].addresses[0].addr_spec == lead.email
    assert ja["From"].addresses[0].addr_spec == "alerts@tracker.example.jp"
    assert ja["Message-ID"] == f"<delivery-{sent[lead.email].id}@tracker.example.jp>"
    assert ja["Content-Language"] == "ja"
    assert ja.get_content_type() == "multipart/alternative"
    assert "対応責任者" in ja["Subject"] and "AI-0001" in ja["Subject"] and TITLE in ja["Subject"]
    text, html = _parts(ja)
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    body = text.get_content()
    assert "SEV1 - 致命的" in body and "SEV1 - critical" not in body
    assert "対応責任者" in body and "AI-0001" in body and TITLE in body
    assert f"{BASE}/incidents/{incident_id}" in body
    token = body.split(f"{BASE}/escalations/ack/", 1)[1].split()[0]
    with app.app_context():
        assert read_ack_token(token) == (org.id, lead.id, level1.id)
    assert f"{BASE}/escalations/ack/{token}" in html.get_content()
    assert f'href="{BASE}/incidents/{incident_id}"' in html.get_content()

    # The executive, in English, with their own link.
    [(_f, _r, en)] = [m for m in smtp.mailbox.messages if m[1] == [executive.email]]
    assert en["Message-ID"] == f"<delivery-{sent[executive.email].id}@tracker.example.jp>"
    assert "Executives and the board" in en["Subject"] and "AI-0001" in en["Subject"]
    body = _parts(en)[0].get_content()
    assert "SEV1 - critical" in body and "致命的" not in body
    assert "The incident was filed at severity SEV1 - critical." in body
    token = body.split(f"{BASE}/escalations/ack/", 1)[1].split()[0]
    with app.app_context():
        assert read_ack_token(token) == (org.id, executive.id, level3.id)


def test_confidential_incident_title_is_left_out_and_reminders_say_so(app, factory, smtp):
    org = factory.org(default_locale="en")
    executive = factory.user(org, "executive")  # no locale of their own: the organisation's
    reporter = factory.user(org, "reporter")
    incident_id = file_sev1(app, org, reporter.id, confidential=True)

    [(_f, _r, message)] = smtp.mailbox.messages
    body = _parts(message)[0].get_content()
    assert TITLE not in message["Subject"] and TITLE not in body
    assert "confidential incident" in message["Subject"] and "confidential incident" in body
    assert "Executives and the board" in message["Subject"]
    assert TITLE not in _parts(message)[1].get_content()

    # A reminder round says which one it is.
    with app.app_context(), scoped(org.id):
        escalation = db.session.execute(select(Escalation).where(Escalation.level == 3)).unique().scalar_one()
        incident = db.session.execute(select(Incident).where(Incident.id == incident_id)).unique().scalar_one()
        reminder = mail.compose(SimpleNamespace(id=987, round=2, recipient=executive.email), escalation, incident)
        db.session.remove()
    assert "Reminder 2" in reminder["Subject"]
    assert reminder["Message-ID"] == "<delivery-987@tracker.example.jp>"
    assert "reminder 2" in reminder.get_body(preferencelist=("plain",)).get_content()


def test_stopped_smtp_server_keeps_the_delivery_pending_then_it_is_sent_once(app, factory, mail_config):
    port = free_port()
    mail_config(port)  # nothing listens there yet
    org = factory.org()
    lead = factory.user(org, "lead", locale="en")
    reporter = factory.user(org, "reporter")
    before = utcnow()
    incident_id = file_sev1(app, org, reporter.id)

    [d] = deliveries(app, org, "email")
    assert (d.recipient, d.status, d.attempts) == (lead.email, "pending", 1)
    assert "ConnectionRefusedError" in d.last_error
    assert d.next_attempt_at >= before + timedelta(seconds=10)  # backoff before the sweep retries
    with app.app_context(), scoped(org.id):
        entry = db.session.execute(select(LedgerEntry).where(LedgerEntry.action == "delivery")).scalar_one()
        assert '"status":"pending"' in entry.payload and "ConnectionRefusedError" in entry.payload
        db.session.remove()

    server = SmtpServer(port).start()
    try:
        with app.app_context(), scoped(org.id):
            assert deliver_one(d.id) is None
            assert deliver_one(d.id) is None  # sent already: not taken again
            db.session.remove()
        run_job(app, org, incident_id)
        [after] = deliveries(app, org, "email")
        assert (after.id, after.status, after.attempts, after.last_error) == (d.id, "sent", 2, "")
        assert len(server.mailbox.messages) == 1
        assert server.mailbox.messages[0][2]["Message-ID"] == f"<delivery-{d.id}@tracker.example.jp>"
    finally:
        server.stop()


def test_no_smtp_server_configured_is_a_clear_error(app, factory, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    org = factory.org()
    factory.user(org, "lead")
    reporter = factory.user(org, "reporter")
    file_sev1(app, org, reporter.id)
    [d] = deliveries(app, org, "email")
    # No retry can send it: failed at once, with the reason on the record (shown on the incident).
    assert d.status == "failed" and d.attempts == 1 and d.next_attempt_at is None
    assert "no SMTP server configured" in d.last_error


# ---------------------------------------------------------------- webhooks


def _admin_and_endpoint(app, factory, org, url, min_level=1):
    admin = factory.user(org, "admin")
    with app.app_context(), scoped(org.id):
        endpoint, secret = endpoints.create_endpoint(actor=orgs.get_user(admin.id),
                                                     data={"url": url, "min_level": min_level})
        endpoint_id = endpoint.id
        db.session.remove()
    return admin, endpoint_id, secret


def test_webhooks_are_signed_and_verified_by_the_receiver(app, factory, receiver):
    org = factory.org()
    _admin, endpoint_id, secret = _admin_and_endpoint(app, factory, org, receiver.url)
    receiver.secret = secret
    reporter = factory.user(org, "reporter")
    incident_id = file_sev1(app, org, reporter.id)
    run_job(app, org, incident_id)

    sent = deliveries(app, org, "webhook")
    assert len(sent) == 2 and all(d.status == "sent" and d.attempts == 1 for d in sent)
    assert {d.recipient for d in sent} == {f"webhook:{endpoint_id}"}
    assert [r["status"] for r in receiver.requests] == [200, 200]
    by_delivery = {r["headers"]["x-ait-delivery"]: r for r in receiver.requests}
    assert set(by_delivery) == {str(d.id) for d in sent}
    level1 = escalations_of(app, org, incident_id)[0]
    first = by_delivery[str(next(d.id for d in sent if d.escalation_id == level1.id))]
    assert first["headers"]["content-type"] == "application/json"
    assert first["headers"]["x-ait-signature"] == webhooks.sign(
        secret, first["headers"]["x-ait-timestamp"], first["body"])
    doc = first["json"]
    assert doc["event"] == "escalation" and doc["delivery"] == first["headers"]["x-ait-delivery"]
    assert doc["escalation"]["id"] == level1.id and doc["escalation"]["level"] == 1
    assert doc["escalation"]["level_key"] == "response_lead" and doc["escalation"]["round"] == 0
    assert doc["escalation"]["reason"] == "filed_severity" and doc["escalation"]["rule"] is None
    assert doc["escalation"]["created_at"]
    assert doc["incident"]["id"] == incident_id and doc["incident"]["ref"] == "AI-0001"
    assert doc["incident"]["severity"] == "sev1" and doc["incident"]["state"]
    assert doc["incident"]["url"] == f"{BASE}/incidents/{incident_id}"
    assert doc["incident"]["title"] == TITLE and doc["incident"]["confidential"] is False


def test_a_replayed_or_tampered_request_is_refused(app, factory, receiver):
    org = factory.org()
    _admin, _endpoint_id, secret = _admin_and_endpoint(app, factory, org, receiver.url, min_level=3)
    receiver.secret = secret
    reporter = factory.user(org, "reporter")
    file_sev1(app, org, reporter.id, confidential=True)
    [original] = receiver.requests  # min_level 3: level 1 is not sent here
    assert original["status"] == 200
    assert "title" not in original["json"]["incident"] and original["json"]["incident"]["confidential"] is True
    headers = {k: v for k, v in original["headers"].items() if k.lower().startswith(("x-ait-", "content-type"))}

    def resend(body=original["body"], extra=None):
        request = urllib.request.Request(receiver.url, data=body, method="POST", headers={**headers, **(extra or {})})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code

    # The same request again, within the window: the delivery id was seen.
    assert resend() == 409
    assert "already received" in receiver.requests[-1]["verdict"]
    # Later (say the receiver forgot what it saw): the timestamp is outside the window.
    receiver.seen.clear()
    receiver.clock = lambda: time.time() + 301
    assert resend() == 401
    assert "outside the 300 s window" in receiver.requests[-1]["verdict"]
    receiver.clock = time.time
    # A changed body, or a signature made with another secret.
    assert resend(original["body"].replace(b"sev1", b"sev4")) == 401
    assert receiver.requests[-1]["verdict"] == "the signature does not match"
    ts = headers["x-ait-timestamp"]
    forged = webhooks.sign("whsec_not-the-secret", ts, original["body"])
    assert resend(extra={"x-ait-signature": forged}) == 401
    assert len(receiver.accepted()) == 1


def test_a_500_answer_is_recorded_and_retried_until_taken(app, factory, receiver):
    org = factory.org()
    _admin, _endpoint_id, secret = _admin_and_endpoint(app, factory, org, receiver.url, min_level=3)
    receiver.secret = secret
    receiver.fail_with = 500
    reporter = factory.user(org, "reporter")
    incident_id = file_sev1(app, org, reporter.id)

    [d] = deliveries(app, org, "webhook")
    assert (d.status, d.attempts) == ("pending", 1)
    assert d.last_error.startswith("WebhookError: HTTP 500 from ")
    level3 = escalations_of(app, org, incident_id)[-1]
    with app.app_context():
        with pytest.raises(DeliveryFailed, match="HTTP 500"):  # RQ retries the job too
            deliver_escalation(org.id, level3.id)
        db.session.remove()
    [d] = deliveries(app, org, "webhook")
    assert (d.status, d.attempts) == ("pending", 2)

    receiver.fail_with = None
    with app.app_context(), scoped(org.id):
        assert deliver_one(d.id) is None
        db.session.remove()
    [d] = deliveries(app, org, "webhook")
    assert (d.status, d.attempts, d.last_error) == ("sent", 3, "")
    # The same delivery id each time, a fresh timestamp and signature per attempt.
    assert [r["status"] for r in receiver.requests] == [500, 500, 200]
    assert {r["headers"]["x-ait-delivery"] for r in receiver.requests} == {str(d.id)}
    with app.app_context(), scoped(org.id):
        entries = db.session.execute(select(LedgerEntry).where(LedgerEntry.action == "delivery")
                                     .order_by(LedgerEntry.seq)).scalars().all()
        assert ['"status":"sent"' in e.payload for e in entries] == [False, False, True]
        db.session.remove()


def test_a_deactivated_endpoint_is_not_sent_to(app, factory, receiver):
    org = factory.org()
    admin, endpoint_id, secret = _admin_and_endpoint(app, factory, org, receiver.url, min_level=3)
    receiver.secret = secret
    reporter = factory.user(org, "reporter")
    receiver.fail_with = 503
    file_sev1(app, org, reporter.id)
    with app.app_context(), scoped(org.id):
        endpoints.deactivate_endpoint(actor=orgs.get_user(admin.id), webhook_id=endpoint_id)
        [d] = db.session.execute(select(Delivery).where(Delivery.channel == "webhook")).scalars().all()
        error = deliver_one(d.id)
        db.session.remove()
    assert error == f"WebhookError: webhook endpoint {endpoint_id} is deactivated"
    assert len(receiver.requests) == 1


# ---------------------------------------------------------------- sign / verify (what receivers use)


def test_sign_and_verify_helpers():
    secret, body, ts = "whsec_test", b'{"a":1}', 1_700_000_000
    signature = webhooks.sign(secret, ts, body)
    import hashlib
    import hmac

    assert signature == "v1=" + hmac.new(b"whsec_test", b"1700000000." + body, hashlib.sha256).hexdigest()
    headers = {"x-ait-delivery": "42", "x-ait-timestamp": str(ts), "x-ait-signature": signature}
    seen = set()
    assert webhooks.verify(secret, headers, body, now=ts + 10, seen=seen) == "42"
    assert seen == {"42"}
    with pytest.raises(webhooks.VerificationError, match="already received"):
        webhooks.verify(secret, headers, body, now=ts + 10, seen=seen)
    assert webhooks.verify(["whsec_old", secret], ("42", ts, signature), body, now=ts) == "42"
    with pytest.raises(webhooks.VerificationError, match="outside"):
        webhooks.verify(secret, headers, body, now=ts - 301)
    with pytest.raises(webhooks.VerificationError, match="outside"):
        webhooks.verify(secret, headers, body, now=ts + 1000, tolerance=600)
    with pytest.raises(webhooks.VerificationError, match="does not match"):
        webhooks.verify("whsec_other", headers, body, now=ts)
    with pytest.raises(webhooks.VerificationError, match="missing"):
        webhooks.verify(secret, {"X-AIT-Delivery": "42"}, body, now=ts)
    with pytest.raises(webhooks.VerificationError, match="whole number"):
        webhooks.verify(secret, ("42", "soon", signature), body, now=ts)
