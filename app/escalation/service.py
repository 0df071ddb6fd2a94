"""Escalations: timers kept in step with incidents, the sweep that fires them, recording,
acknowledging and reading.

**Due times live in the database.** :func:`sync_incident` (called by every service that
changes an incident's deadlines or state, inside its transaction) keeps one
:class:`EscalationTimer` row per thing that may escalate: a regulatory deadline reaching
50 % / 80 % of its period or passing, a state's response target passing. A timer that
stops applying (the deadline was met, the incident closed) is deleted; a moved deadline
moves its timers.

**Recording once.** An escalation's key is ``(incident, trigger, level, occurrence)``,
unique in the database. The sweep claims due timers (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, the write lock on SQLite), skips keys already recorded, inserts the new
escalations and marks the timers fired, all in one transaction, so a sweep run twice,
or on two machines at once, records each escalation once (a writer that loses a race on
the unique key rolls back and retries its batch).

**Notifications** are :class:`Delivery` rows (in-app ones are written at once); e-mail and
webhook deliveries are sent by jobs enqueued after the commit
(:mod:`app.escalation.delivery`). The sweep also re-enqueues pending deliveries whose
``next_attempt_at`` passed, so a lost job or a killed worker only delays a notification.

Filing at a severity escalates at once, in the filing transaction.
"""
import logging
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from app import queue
from app.db import transaction, utcnow
from app.errors import Forbidden, NotFound, ValidationFailed
from app.escalation import policy as policies
from app.escalation.models import Delivery, Escalation, EscalationTimer, Notification, WebhookEndpoint
from app.extensions import db
from app.incidents.models import Deadline, Incident
from app.ledger import service as ledger
from app.orgs.models import User
from app.tenancy import scoped

log = logging.getLogger(__name__)

SWEEP_BATCH = 200
ACK_ROLES = ("responder", "lead", "executive", "admin")
READ_ROLES = ("responder", "lead", "executive", "admin")
ACK_TOKEN_SALT = "escalation-ack"
ACK_TOKEN_MAX_AGE = 14 * 86400
DELIVERY_JOB = "app.escalation.delivery.deliver_escalation"

REASON_FILED = "filed_severity"
REASON_TARGET = "state_target_passed"
REASON_PROGRESS = "deadline_progress"
REASON_OVERDUE = "deadline_overdue"
REASON_NO_ACK = "not_acknowledged"


# ---------------------------------------------------------------- policy for an incident


def policy_for(incident):
    from app.workflow import loader

    try:
        with scoped(incident.org_id):
            definition = loader.get_definition(org_id=incident.org_id, workflow_id=incident.workflow,
                                               version=incident.workflow_version)
    except Exception:  # noqa: BLE001 - a broken org copy must not stop escalation
        log.exception("no workflow definition for incident %s; default escalation policy", incident.id)
        definition = None
    return policies.for_workflow(definition)


def _minutes(value):
    return int(value.timestamp() // 60)


# ---------------------------------------------------------------- timers


def desired_timers(incident, policy, deadlines):
    """``{(trigger, level, occurrence): due_at}`` of the timers an incident should have now."""
    wanted = {}
    if not incident.is_open:
        return wanted
    for d in deadlines:
        if d.met_at is not None:
            continue
        if d.kind == "state_target":
            entered = incident.state_entered_at or incident.created_at
            for level in policy.target_levels():
                wanted[(d.rule, level, _minutes(entered))] = d.due_at
            continue
        start = incident.aware_at
        span = d.due_at - start
        for t in policy.deadline_triggers(d.kind):
            due = d.due_at if t.at_percent >= 100 else start + span * (t.at_percent / 100)
            name = f"deadline:{d.rule}:{'overdue' if t.at_percent >= 100 else t.at_percent}"
            wanted[(name, t.level, 0)] = due
    return wanted


def sync_incident(session, incident, *, policy=None, new=False):
    """Bring the incident's unfired timers in line with its deadlines and state (call after flush).

    ``new=True`` (filing): the deadlines are the ones in memory and there are no timers yet,
    so nothing is read.
    """
    policy = policy or policy_for(incident)
    if new:
        deadlines, rows = list(incident.deadlines), []
    else:
        deadlines = session.execute(
            select(Deadline).where(Deadline.incident_id == incident.id)
            .execution_options(all_orgs=True)).scalars().all()
        rows = session.execute(
            select(EscalationTimer).where(EscalationTimer.incident_id == incident.id)
            .execution_options(all_orgs=True)).scalars().all()
    wanted = desired_timers(incident, policy, deadlines)
    have = {}
    for row in rows:
        key = (row.trigger, row.level, row.occurrence)
        if row.escalation_id is not None:
            if not incident.is_open and row.fired_at is None:
                session.delete(row)  # no reminders for a closed incident
            continue
        have[key] = row
    for key, row in have.items():
        if row.fired_at is not None:
            continue
        if key not in wanted:
            session.delete(row)
        elif row.due_at != wanted[key]:
            row.due_at = wanted[key]
    for key, due in wanted.items():
        if key not in have:
            session.add(EscalationTimer(org_id=incident.org_id, incident_id=incident.id, trigger=key[0],
                                        level=key[1], occurrence=key[2], due_at=due))


def incident_filed(session, incident, *, actor=None, now=None):
    """Escalate at once for the filing severity, then set the incident's timers."""
    policy = policy_for(incident)
    now = now or utcnow()
    specs = [dict(incident=incident, trigger="filed", level=level, occurrence=0, reason=REASON_FILED,
                  rule=None, detail={"severity": incident.severity})
             for level in policy.filing_levels(incident.severity)]
    if specs:
        record_many(session, specs, policy_of=lambda _i: policy, now=now, new_incident=True)
    sync_incident(session, incident, policy=policy, new=True)


def incident_changed(session, incident):
    """Facts, state or deadlines changed: move, add or drop the incident's timers."""
    session.flush()
    sync_incident(session, incident)


# ---------------------------------------------------------------- recipients


class _Directory:
    """Users by role and by e-mail, and webhook endpoints, per organisation (one sweep batch)."""

    def __init__(self, session):
        self.session = session
        self._users = {}
        self._hooks = {}

    def users(self, org_id):
        if org_id not in self._users:
            self._users[org_id] = self.session.execute(
                select(User.id, User.name, User.email, User.role, User.locale)
                .where(User.org_id == org_id, User.active.is_(True))
                .execution_options(all_orgs=True)).all()
        return self._users[org_id]

    def hooks(self, org_id):
        if org_id not in self._hooks:
            self._hooks[org_id] = self.session.execute(
                select(WebhookEndpoint.id, WebhookEndpoint.min_level)
                .where(WebhookEndpoint.org_id == org_id, WebhookEndpoint.active.is_(True))
                .execution_options(all_orgs=True)).all()
        return self._hooks[org_id]


def recipients(level, incident, directory, *, policy=None, rule=None):
    """The people (and, for an external level, the authority) an escalation is for."""
    out, seen = [], set()
    for u in directory.users(incident.org_id):
        named = u.email.lower() in level.users
        if u.role in level.roles or named or (level.assignee and u.id == incident.assignee_id):
            out.append({"type": "user", "id": u.id, "name": u.name, "email": u.email,
                        "locale": u.locale or ""})
            seen.add(u.email.lower())
    for email in level.users:
        if email not in seen:
            out.append({"type": "email", "email": email})
    if level.external and policy is not None:
        label = policy.authorities.get(rule or "")
        out.append({"type": "authority", "rule": rule,
                    "name": {"en": label.en, "ja": label.ja} if label else {"en": "", "ja": ""}})
    return out


# ---------------------------------------------------------------- recording


def record_many(session, specs, *, policy_of, now, directory=None, new_incident=False):
    """Record escalations (each ``dict(incident, trigger, level, occurrence, reason, rule, detail)``).

    Returns the ids of the new escalations; a key already recorded is skipped (and the
    unique key in the database stops a racing writer: its transaction fails and is
    retried). Writes the in-app notifications, the pending deliveries, the follow-up
    timers and a ledger entry for each, and enqueues the delivery jobs for after the
    commit. Rows go in as a few batched INSERTs, whatever the number of escalations.
    """
    if not specs:
        return []
    directory = directory or _Directory(session)
    recorded = set()
    if not new_incident:  # a new incident has no escalations to read
        incident_ids = {spec["incident"].id for spec in specs}
        recorded = {tuple(row) for row in session.execute(
            select(Escalation.incident_id, Escalation.trigger, Escalation.level, Escalation.occurrence)
            .where(Escalation.incident_id.in_(incident_ids)).execution_options(all_orgs=True))}
    planned = []
    for spec in specs:
        incident = spec["incident"]
        policy = policy_of(incident)
        level = policy.level(spec["level"])
        key = (incident.id, spec["trigger"], spec["level"], spec["occurrence"])
        if level is None or key in recorded:
            continue  # recorded before: this key escalates once
        recorded.add(key)
        who = recipients(level, incident, directory, policy=policy, rule=spec.get("rule"))
        row = Escalation(org_id=incident.org_id, incident_id=incident.id, policy=policy.id,
                         trigger=spec["trigger"], level=level.level, occurrence=spec["occurrence"],
                         reason=spec["reason"], rule=spec.get("rule"), external=level.external,
                         recipients=who, detail=spec.get("detail") or {}, created_at=now, repeats=0)
        session.add(row)
        planned.append((row, spec, incident, policy, level, who))
    session.flush()  # one batched INSERT ... RETURNING for the escalations' ids
    for row, spec, incident, policy, level, who in planned:
        _notify(session, row.id, who, level, incident, directory, round_=0, now=now)
        following = policy.next_level(level.level)
        if level.acknowledge_within and following is not None:
            session.add(EscalationTimer(
                org_id=incident.org_id, incident_id=incident.id, trigger=f"noack:{row.id}",
                level=following.level, occurrence=0,
                due_at=now + timedelta(seconds=level.acknowledge_within), escalation_id=row.id))
        if level.repeat_every and level.max_repeats:
            session.add(EscalationTimer(
                org_id=incident.org_id, incident_id=incident.id, trigger=f"repeat:{row.id}",
                level=level.level, occurrence=1,
                due_at=now + timedelta(seconds=level.repeat_every), escalation_id=row.id))
        ledger.record("escalate", actor="system:escalation", org_id=incident.org_id,
                      subject_type="incident", subject_id=incident.id, payload={
                          "escalation": row.id, "level": level.level, "level_key": level.key,
                          "trigger": spec["trigger"], "occurrence": spec["occurrence"],
                          "reason": spec["reason"], "rule": spec.get("rule"), "external": level.external,
                          "recipients": [_recipient_key(r) for r in who]})
    return [row.id for row, *_ in planned]


def _recipient_key(r):
    if r["type"] == "user":
        return f"user:{r['id']}"
    if r["type"] == "authority":
        return f"authority:{r.get('rule') or ''}"
    return f"email:{r['email']}"


def _delivery(incident, escalation_id, channel, recipient, round_, now, *, sent, retry_after):
    """A delivery row with every column set, so the ORM batches them into one INSERT
    (rows with different sets of columns would go one statement each)."""
    return Delivery(org_id=incident.org_id, escalation_id=escalation_id, channel=channel, recipient=recipient,
                    round=round_, status="sent" if sent else "pending", attempts=1 if sent else 0,
                    next_attempt_at=None if sent else retry_after, locked_until=None, last_error="",
                    created_at=now, sent_at=now if sent else None)


def _notify(session, escalation_id, who, level, incident, directory, *, round_, now):
    """One round of notifications: in-app rows now, e-mail and webhook deliveries as jobs."""
    pending = 0
    retry_after = now + timedelta(seconds=current_app.config.get("DELIVERY_REQUEUE_AFTER_SECONDS", 60))
    for r in who or ():
        if r["type"] == "user" and "in_app" in level.channels:
            session.add(Notification(org_id=incident.org_id, user_id=r["id"], escalation_id=escalation_id,
                                     incident_id=incident.id, round=round_, created_at=now, read_at=None))
            session.add(_delivery(incident, escalation_id, "in_app", f"user:{r['id']}", round_, now,
                                  sent=True, retry_after=retry_after))
        if r["type"] in ("user", "email") and "email" in level.channels and not level.external:
            session.add(_delivery(incident, escalation_id, "email", r["email"], round_, now,
                                  sent=False, retry_after=retry_after))
            pending += 1
    if "webhook" in level.channels:
        for hook in directory.hooks(incident.org_id):
            if hook.min_level <= level.level:
                session.add(_delivery(incident, escalation_id, "webhook", f"webhook:{hook.id}", round_, now,
                                      sent=False, retry_after=retry_after))
                pending += 1
    if pending and current_app.config.get("DELIVERY_JOBS_ENABLED", True):
        queue.enqueue(DELIVERY_JOB, incident.org_id, escalation_id, durable=True)


# ---------------------------------------------------------------- the sweep


def _claim(session, now, limit):
    stmt = (select(EscalationTimer)
            .where(EscalationTimer.fired_at.is_(None), EscalationTimer.due_at <= now)
            .order_by(EscalationTimer.due_at).limit(limit)
            .execution_options(all_orgs=True))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return session.execute(stmt).scalars().all()


def sweep(*, now=None, batch=SWEEP_BATCH, max_batches=None):
    """Fire every due timer and re-enqueue overdue deliveries; returns counts.

    Safe to run twice, and in several processes at once.
    """
    totals = {"fired": 0, "recorded": 0, "requeued": 0}
    batches = 0
    while max_batches is None or batches < max_batches:
        current = now or utcnow()
        for attempt in range(3):
            try:
                fired, recorded = _sweep_batch(current, batch)
                break
            except IntegrityError:
                # Another writer recorded one of these keys first: read again and skip it.
                log.info("escalation sweep: a key was recorded concurrently; retrying the batch")
                if attempt == 2:
                    raise
        totals["fired"] += fired
        totals["recorded"] += recorded
        batches += 1
        if fired < batch:
            break
    totals["requeued"] = requeue_deliveries(now=now)
    return totals


def _sweep_batch(now, batch):
    with transaction() as s:
        timers = _claim(s, now, batch)
        if not timers:
            return 0, 0
        incident_ids = {t.incident_id for t in timers}
        incidents = {i.id: i for i in s.execute(
            select(Incident).where(Incident.id.in_(incident_ids)).execution_options(all_orgs=True)
        ).unique().scalars()}
        follow_ids = {t.escalation_id for t in timers if t.escalation_id is not None}
        followed = {}
        if follow_ids:
            followed = {e.id: e for e in s.execute(
                select(Escalation).where(Escalation.id.in_(follow_ids)).execution_options(all_orgs=True)
            ).unique().scalars()}
        directory = _Directory(s)
        policy_cache = {}

        def policy_of(incident):
            key = (incident.org_id, incident.workflow, incident.workflow_version)
            if key not in policy_cache:
                with scoped(incident.org_id):
                    policy_cache[key] = policy_for(incident)
            return policy_cache[key]

        # One UPDATE marks the whole batch fired (the ORM would send one per row).
        s.execute(update(EscalationTimer).where(EscalationTimer.id.in_([t.id for t in timers]))
                  .values(fired_at=now).execution_options(synchronize_session=False, all_orgs=True))
        specs, recorded = [], 0
        for timer in timers:
            incident = incidents.get(timer.incident_id)
            if incident is None or not incident.is_open:
                continue
            if timer.escalation_id is None:
                specs.append(_spec_for_timer(timer, incident))
                continue
            escalation = followed.get(timer.escalation_id)
            if escalation is None or escalation.acknowledged_at is not None:
                continue
            if timer.trigger.startswith("noack:"):
                specs.append(dict(incident=incident, trigger=escalation.trigger, level=timer.level,
                                  occurrence=escalation.occurrence, reason=REASON_NO_ACK, rule=escalation.rule,
                                  detail={"after": escalation.id, "from_level": escalation.level}))
            elif timer.trigger.startswith("repeat:"):
                recorded += _repeat(s, timer, escalation, incident, policy_of(incident), directory, now)
        recorded += len(record_many(s, specs, policy_of=policy_of, now=now, directory=directory))
        return len(timers), recorded


def _spec_for_timer(timer, incident):
    trigger = timer.trigger
    if trigger.startswith("deadline:"):
        _, rule, mark = trigger.split(":", 2)
        reason = REASON_OVERDUE if mark == "overdue" else REASON_PROGRESS
        detail = {"percent": 100 if mark == "overdue" else int(mark), "due_at": None}
        return dict(incident=incident, trigger=trigger, level=timer.level, occurrence=timer.occurrence,
                    reason=reason, rule=rule, detail=detail)
    # A state's response target ("target:<state>").
    return dict(incident=incident, trigger=trigger, level=timer.level, occurrence=timer.occurrence,
                reason=REASON_TARGET, rule=trigger, detail={"state": trigger.split(":", 1)[1]})


def _repeat(session, timer, escalation, incident, policy, directory, now):
    level = policy.level(escalation.level)
    if level is None:
        return 0
    round_ = timer.occurrence
    if escalation.repeats >= round_:
        return 0  # this round went out already
    escalation.repeats = round_
    _notify(session, escalation.id, escalation.recipients, level, incident, directory, round_=round_, now=now)
    if level.repeat_every and round_ < level.max_repeats:
        session.add(EscalationTimer(
            org_id=incident.org_id, incident_id=incident.id, trigger=timer.trigger, level=timer.level,
            occurrence=round_ + 1, due_at=now + timedelta(seconds=level.repeat_every),
            escalation_id=escalation.id))
    ledger.record("escalation_reminder", actor="system:escalation", org_id=incident.org_id,
                  subject_type="incident", subject_id=incident.id,
                  payload={"escalation": escalation.id, "round": round_, "level": escalation.level})
    return 0


def requeue_deliveries(*, now=None, limit=1000):
    """Enqueue again the escalations whose pending deliveries are overdue (lost or failed jobs)."""
    now = now or utcnow()
    overdue = (Delivery.status == "pending", Delivery.next_attempt_at <= now,
               or_(Delivery.locked_until.is_(None), Delivery.locked_until <= now))
    rows = db.session.execute(
        select(Delivery.org_id, Delivery.escalation_id).where(*overdue)
        .group_by(Delivery.org_id, Delivery.escalation_id).limit(limit)
        .execution_options(all_orgs=True)).all()
    db.session.rollback()  # end the read snapshot
    if not rows:
        return 0
    # Not again before another requeue period: while the workers are behind, a sweep every
    # few seconds must not add one more job per waiting escalation each time (the queue grew
    # to 20 jobs per pending delivery under load). The jobs go out after this commit.
    again = now + timedelta(seconds=current_app.config.get("DELIVERY_REQUEUE_AFTER_SECONDS", 60))
    with transaction() as s:
        s.execute(update(Delivery).where(*overdue, Delivery.escalation_id.in_([e for _o, e in rows]))
                  .values(next_attempt_at=again).execution_options(synchronize_session=False, all_orgs=True))
        if current_app.config.get("DELIVERY_JOBS_ENABLED", True):
            for org_id, escalation_id in rows:
                queue.enqueue(DELIVERY_JOB, org_id, escalation_id, durable=True)
    return len(rows)


# ---------------------------------------------------------------- reading and acknowledging


def _require(actor, roles):
    if actor.role not in roles:
        raise Forbidden(f"your role ({actor.role}) may not see escalations")


def list_for_incident(*, actor, incident_id):
    """The incident's escalations, oldest first (404 when the incident is not visible)."""
    from app.incidents import service as incidents

    incident = incidents.get_incident(actor=actor, incident_id=incident_id)
    if actor.role not in READ_ROLES:
        return []
    return db.session.execute(
        select(Escalation).where(Escalation.incident_id == incident.id).order_by(Escalation.id)
    ).unique().scalars().all()


def get_escalation(*, actor, escalation_id):
    _require(actor, READ_ROLES)
    row = db.session.execute(select(Escalation).where(Escalation.id == escalation_id)).unique().scalar_one_or_none()
    if row is None:
        raise NotFound("escalation not found")
    return row


def list_open(*, actor, limit=100):
    """Unacknowledged escalations of the organisation, newest first."""
    _require(actor, READ_ROLES)
    return db.session.execute(
        select(Escalation).where(Escalation.acknowledged_at.is_(None))
        .order_by(Escalation.id.desc()).limit(limit)).unique().scalars().all()


def acknowledge(*, actor, escalation_id, via="web"):
    """Acknowledge an escalation (idempotent: a second acknowledgement changes nothing)."""
    if actor.role not in ACK_ROLES:
        raise Forbidden(f"your role ({actor.role}) may not acknowledge escalations")
    row = get_escalation(actor=actor, escalation_id=escalation_id)
    if row.acknowledged_at is not None:
        return row
    now = utcnow()
    with transaction() as s:
        done = s.execute(
            update(Escalation).where(Escalation.id == row.id, Escalation.acknowledged_at.is_(None))
            .values(acknowledged_at=now, acknowledged_by_id=actor.id)
            .execution_options(synchronize_session=False)).rowcount
        if done:
            # Reminders and the next level's timer stop here.
            s.execute(delete(EscalationTimer).where(EscalationTimer.escalation_id == row.id,
                                                    EscalationTimer.fired_at.is_(None))
                      .execution_options(synchronize_session=False))
            ledger.record("acknowledge", actor=actor, subject_type="incident", subject_id=row.incident_id,
                          payload={"escalation": row.id, "level": row.level, "via": via})
    s.refresh(row)
    return row


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=ACK_TOKEN_SALT)


def ack_token(escalation, user_id):
    """A signed token that lets one user acknowledge one escalation (the e-mail's link)."""
    return _serializer().dumps({"e": escalation.id, "u": user_id, "o": escalation.org_id})


def read_ack_token(token):
    """``(org_id, user_id, escalation_id)`` from a token, or raise NotFound / ValidationFailed."""
    try:
        data = _serializer().loads(token, max_age=ACK_TOKEN_MAX_AGE)
    except SignatureExpired:
        raise ValidationFailed({"token": ["This link has expired; acknowledge from the incident page."]}) from None
    except BadSignature:
        raise NotFound("unknown acknowledgement link") from None
    return data["o"], data["u"], data["e"]


def acknowledge_by_token(token):
    """Acknowledge with an e-mailed link; returns the escalation (the link names its user)."""
    org_id, user_id, escalation_id = read_ack_token(token)
    with scoped(org_id):
        user = db.session.execute(select(User).where(User.id == user_id, User.active.is_(True))).scalar_one_or_none()
        if user is None:
            raise NotFound("unknown acknowledgement link")
        return acknowledge(actor=user, escalation_id=escalation_id, via="email_link")


def by_level(*, since=None, until=None):
    """``{level: count}`` of the organisation's escalations created in a period (dashboard)."""
    stmt = select(Escalation.level, func.count()).group_by(Escalation.level)
    if since is not None:
        stmt = stmt.where(Escalation.created_at >= since)
    if until is not None:
        stmt = stmt.where(Escalation.created_at < until)
    return {level: n for level, n in db.session.execute(stmt).all()}


# ---------------------------------------------------------------- notifications (in-app)


def notifications(*, actor, limit=50, unread_only=False):
    stmt = select(Notification, Escalation, Incident).join(
        Escalation, Escalation.id == Notification.escalation_id).join(
        Incident, Incident.id == Notification.incident_id).where(Notification.user_id == actor.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return db.session.execute(stmt.order_by(Notification.id.desc()).limit(limit)).unique().all()


def unread_badge(actor):
    """The header badge's count; 0 (and the session rolled back) if the count fails, so a
    broken count never breaks a page such as the error page itself."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.tenancy import current_org_id

    if current_org_id() != getattr(actor, "org_id", None):
        return 0  # an error page before the request was put under the user's organisation
    try:
        return unread_count(actor)
    except SQLAlchemyError:
        db.session.rollback()
        return 0


def find_escalation(escalation_id):
    """The id of the caller's organisation's escalation (scoped by the tenancy hook), else NotFound."""
    found = db.session.execute(select(Escalation.id).where(Escalation.id == escalation_id)).scalar_one_or_none()
    if found is None:
        raise NotFound("escalation not found")
    return found


def unread_count(actor):
    return db.session.execute(
        select(func.count(Notification.id))
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))).scalar_one()


def mark_read(*, actor, notification_ids=None):
    """Mark the actor's notifications read (all of them when no ids are given)."""
    with transaction() as s:
        stmt = update(Notification).where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        if notification_ids is not None:
            stmt = stmt.where(Notification.id.in_(list(notification_ids)))
        n = s.execute(stmt.values(read_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    return n
