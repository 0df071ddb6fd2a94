"""The regulator-ready report pack: everything about one incident a ministry, the PPC or an
EU authority would ask for, as one document (JSON, CSV or a printable HTML page).

:func:`build_pack` reads (it never writes): the facts (the staff view of the incident),
the AI system's inventory record, the timeline with the transitions' fields, the
escalations and their deliveries, every deadline and how it was met, the corrective
actions and the post-incident review's findings (read from the transitions' fields), the
ledger entries about the incident and its escalations (with their hashes, so an auditor
can recompute the chain), the result of verifying the organisation's ledger and the
latest signed checkpoint.

Times are UTC ISO 8601 in the dict (and so in JSON); the CSV and the HTML page show them
in the organisation's time zone.

:func:`create_pack_job` writes an :class:`ExportJob` and enqueues
``app.reports.jobs.build_pack_job``; :func:`run_pack_job` (what the job calls) builds the
file with progress and stores it. Both append to the ledger.
"""
import csv
import io
import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update

from app import queue
from app.db import transaction, utcnow
from app.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.incidents import service as incidents
from app.reports.models import ExportJob

PACK_ROLES = ("responder", "lead", "executive", "admin")
FORMATS = ("json", "csv", "html")
LOCALES = ("ja", "en")
JOB_KIND = "report_pack"
JOB_ACTOR = "system:reports"
JOB_PATH = "app.reports.jobs.build_pack_job"
LEDGER_PAGE = 200
# Sections built one after the other (progress counts them, plus every ledger entry).
SECTIONS = ("facts", "ai_system", "timeline", "escalations", "deadlines", "findings", "ledger", "verify", "checkpoint")

# Transition fields that record what was done about the incident (every occurrence, oldest first).
CORRECTIVE_FIELDS = ("containment_actions", "measures_taken", "remediation_plan", "remediation_summary", "corrective_actions",
                     "recurrence_prevention")
# Fields of the post-incident review (the latest value of each).
REVIEW_FIELDS = ("root_cause", "root_cause_analysis", "cause", "corrective_actions", "recurrence_prevention",
                 "information_shared", "lessons_learned")

CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
BOM = "\ufeff"


# ---------------------------------------------------------------- helpers


def _iso(value):
    """A datetime as UTC ISO 8601 text (None stays None)."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat()


def org_timezone_name(org):
    return getattr(org, "timezone", None) or current_app.config.get("DEFAULT_TIMEZONE", "Asia/Tokyo")


def local_time(text, tz_name):
    """UTC ISO text (from the pack) in the organisation's zone, ISO 8601 with its offset; '' for None."""
    if not text:
        return ""
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return str(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(ZoneInfo(tz_name)).isoformat(timespec="seconds")


def display_time(text, tz_name):
    """UTC ISO text as people read it in the organisation's zone: ``2026-04-01 09:30 JST``."""
    if not text:
        return ""
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return str(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    local = value.astimezone(ZoneInfo(tz_name))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def check_locale(locale):
    """``ja`` or ``en``; anything else is a 422."""
    if locale not in LOCALES:
        raise ValidationFailed({"lang": [f"Must be one of: {', '.join(LOCALES)}."]})
    return locale


def check_format(fmt):
    if fmt not in FORMATS:
        raise ValidationFailed({"format": [f"Must be one of: {', '.join(FORMATS)}."]})
    return fmt


def _require_role(actor):
    if actor.role not in PACK_ROLES:
        raise Forbidden(f"your role ({actor.role}) may not build report packs")


def _person(user):
    if user is None:
        return None
    return {"id": user.id, "name": user.name, "email": user.email}


def _label(label, locale):
    if label is None:
        return None
    if isinstance(label, dict):
        return label.get(locale) or label.get("en")
    return label.get(locale)


# ---------------------------------------------------------------- sections


def _facts(incident, actor):
    from app.incidents.schemas import incident_schema

    facts = incident_schema(actor).dump(incident)
    facts["is_open"] = incident.is_open
    facts["workflow_version"] = incident.workflow_version
    facts["state_entered_at"] = _iso(incident.state_entered_at)
    return facts


def _ai_system(incident):
    system = incident.ai_system
    if system is None:
        return None
    from app.systems.schemas import AISystemSchema

    return AISystemSchema().dump(system)


def _definition(incident):
    from app.workflow import engine

    try:
        return engine.definition_for(incident)
    except Exception:  # noqa: BLE001 - a missing workflow copy must not stop the pack
        return None


def _field_labels(definition, transition_name, locale):
    """``{field: label}`` of a transition's fields in ``locale`` (empty when unknown)."""
    if definition is None or not transition_name:
        return {}
    out = {}
    for t in definition.transitions:
        if t.name == transition_name:
            for spec in t.fields:
                out.setdefault(spec.name, spec.label.get(locale))
    return out


def _state_label(definition, state, locale):
    if state is None:
        return None
    if definition is not None and state in definition.states:
        return definition.states[state].label.get(locale)
    return state


def _timeline(incident, events, actor, definition, locale):
    hide_reporter = not incidents.can_see_reporter(viewer=actor, incident=incident)
    items = []
    for e in events:
        data = dict(e.data or {})
        actor_view = _person(e.actor)
        if e.action == "filed" and hide_reporter:
            actor_view = None
        fields = data.get("fields") or {}
        labels = _field_labels(definition, data.get("transition"), locale)
        items.append({
            "id": e.id,
            "at": _iso(e.at),
            "action": e.action,
            "actor": actor_view,
            "actor_name": actor_view["name"] if actor_view else None,
            "from_state": e.from_state,
            "from_label": _state_label(definition, e.from_state, locale),
            "to_state": e.to_state,
            "to_label": _state_label(definition, e.to_state, locale),
            "comment": e.comment or "",
            "transition": data.get("transition"),
            "transition_label": _label(data.get("label"), locale),
            "fields": [{"name": k, "label": labels.get(k, k), "value": v} for k, v in fields.items()],
            "changes": data.get("changes") or {},
            "meets": list(data.get("meets") or ()),
        })
    return items


def _recipient_text(r, locale):
    kind = r.get("type")
    if kind == "user":
        return f"{r.get('name', '')} <{r.get('email', '')}>".strip()
    if kind == "authority":
        name = r.get("name") or {}
        return (name.get(locale) or name.get("en") or r.get("rule") or "authority") if isinstance(name, dict) else str(name)
    if kind == "email":
        return r.get("email", "")
    if kind == "webhook":
        return f"webhook:{r.get('id')}"
    return json.dumps(r, ensure_ascii=False, sort_keys=True)


def _escalations(actor, incident, locale):
    from app.escalation import service as escalation

    rows = escalation.list_for_incident(actor=actor, incident_id=incident.id)
    out = []
    for row in rows:
        out.append({
            "id": row.id,
            "level": row.level,
            "reason": row.reason,
            "rule": row.rule,
            "trigger": row.trigger,
            "external": bool(row.external),
            "recipients": [_recipient_text(r, locale) for r in (row.recipients or ())],
            "created_at": _iso(row.created_at),
            "acknowledged_at": _iso(row.acknowledged_at),
            "acknowledged_by": _person(row.acknowledged_by),
            "deliveries": [{
                "channel": d.channel, "recipient": d.recipient, "round": d.round, "status": d.status,
                "attempts": d.attempts, "error": d.last_error or "", "sent_at": _iso(d.sent_at),
            } for d in row.deliveries],
        })
    return out


def deadline_outcome(deadline):
    """``met_on_time``, ``met_late`` or ``open``."""
    if deadline.met_at is None:
        return "open"
    return "met_on_time" if deadline.met_at <= deadline.due_at else "met_late"


def _deadlines(incident, locale):
    from app.incidents import deadlines as deadline_rules

    now = utcnow()
    out = []
    for d in sorted(incident.deadlines, key=lambda d: (d.due_at, d.rule)):
        out.append({
            "rule": d.rule,
            "kind": d.kind,
            "label": _label(deadline_rules.label_of(d), locale),
            "source": d.source,
            "period": d.period,
            "due_at": _iso(d.due_at),
            "met_at": _iso(d.met_at),
            "met_by": d.met_by,
            "outcome": deadline_outcome(d),
            "overdue": d.met_at is None and d.due_at < now,
        })
    return out


def _findings(timeline):
    """(corrective actions, review findings) from the transitions' fields."""
    actions, review = [], {}
    for item in timeline:
        for f in item["fields"]:
            entry = {"field": f["name"], "label": f["label"], "value": f["value"], "at": item["at"],
                     "actor_name": item["actor_name"], "transition": item["transition"]}
            if f["name"] in CORRECTIVE_FIELDS:
                actions.append(entry)
            if f["name"] in REVIEW_FIELDS:
                review[f["name"]] = entry  # the latest wins
    ordered = [review[name] for name in REVIEW_FIELDS if name in review]
    return actions, ordered


def _ledger_entry(row):
    try:
        payload = json.loads(row.payload)
    except ValueError:
        payload = row.payload
    return {
        "seq": row.seq, "at": _iso(row.at), "actor": row.actor, "actor_id": row.actor_id, "action": row.action,
        "subject_type": row.subject_type, "subject_id": row.subject_id, "payload": payload,
        "payload_text": row.payload, "prev_hash": row.prev_hash, "hash": row.hash,
    }


def _ledger_subjects(incident_id, escalation_ids):
    return [("incident", incident_id)] + [("escalation", eid) for eid in escalation_ids]


def count_ledger_entries(org_id, subjects):
    from app.ledger.models import LedgerEntry

    conditions = [(LedgerEntry.subject_type == t) & (LedgerEntry.subject_id == i) for t, i in subjects]
    return db.session.execute(
        select(func.count(LedgerEntry.id)).where(LedgerEntry.org_id == org_id, or_(*conditions))
        .execution_options(all_orgs=True)  # as app.ledger reads it: the org is in the WHERE clause
    ).scalar_one()


def _ledger_pages(org_id, subjects, page=LEDGER_PAGE):
    """Pages of the entries about the subjects (each subject paged by sequence number)."""
    from app.ledger import service as ledger

    for subject_type, subject_id in subjects:
        after = 0
        while True:
            rows = ledger.entries(org_id=org_id, subject_type=subject_type, subject_id=subject_id,
                                  after_seq=after, limit=page)
            if not rows:
                break
            yield [_ledger_entry(r) for r in rows]
            after = rows[-1].seq
            if len(rows) < page:
                break


# ---------------------------------------------------------------- the pack


def build_pack(*, actor, incident_id, locale, progress=None):
    """The report pack of one incident as a JSON-ready dict (see the module notes).

    404 when the actor may not see the incident (another organisation's included); 403 for
    reporters. ``progress(done, total)`` is called as each section (and each page of ledger
    entries) is built.
    """
    from app.ledger import service as ledger

    incident = incidents.get_incident(actor=actor, incident_id=incident_id)
    _require_role(actor)
    locale = check_locale(locale)
    org = actor.organisation
    report = progress or (lambda done, total: None)

    with force_locale(locale):
        _, events = incidents.timeline_with_incident(actor=actor, incident_id=incident.id)
        definition = _definition(incident)
        escalations = _escalations(actor, incident, locale)
        subjects = _ledger_subjects(incident.id, [e["id"] for e in escalations])
        n_entries = count_ledger_entries(org.id, subjects)
        total = len(SECTIONS) + n_entries
        done = 0

        def step(n=1):
            nonlocal done
            done = min(done + n, total)
            report(done, total)

        pack = {
            "pack_version": 1,
            "generated_at": _iso(utcnow()),
            "generated_by": _person(actor),
            "language": locale,
            "organisation": {"id": org.id, "slug": org.slug, "name": org.name,
                             "timezone": org_timezone_name(org)},
            "incident_ref": incident.ref,
        }
        pack["facts"] = _facts(incident, actor)
        pack["facts"]["state_label"] = _state_label(definition, incident.state, locale)
        step()
        pack["ai_system"] = _ai_system(incident)
        step()
        pack["timeline"] = _timeline(incident, events, actor, definition, locale)
        step()
        pack["escalations"] = escalations
        step()
        pack["deadlines"] = _deadlines(incident, locale)
        step()
        pack["corrective_actions"], pack["review_findings"] = _findings(pack["timeline"])
        step()
        entries = []
        for page in _ledger_pages(org.id, subjects):
            entries.extend(page)
            step(len(page))
        entries.sort(key=lambda e: e["seq"])
        pack["ledger"] = {"subjects": [{"type": t, "id": i} for t, i in subjects], "entries": entries}
        step()  # the ledger section itself
        verified = ledger.verify(org.id)
        pack["ledger_verification"] = {"ok": verified["ok"], "first_bad": verified["first_bad"],
                                       "entries": verified["entries"], "head": verified["head"],
                                       "checkpoint": verified["checkpoint"]}
        step()
        row = ledger.latest_checkpoint(org.id)
        pack["checkpoint"] = ledger.checkpoint_document(row) if row is not None else None
        done = total - 1
        step()
    return pack


# ---------------------------------------------------------------- formats


def pack_filename(pack, fmt):
    """``report-pack-AI-0042-20260401T0930.json`` (time of generation in the org's zone)."""
    stamp = local_time(pack["generated_at"], pack["organisation"]["timezone"])[:16].replace("-", "").replace(":", "")
    return f"report-pack-{pack['incident_ref']}-{stamp}.{fmt}"


def to_json_bytes(pack):
    return (json.dumps(pack, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode("utf-8")


def _cell(value, tz_name=None, time=False):
    from app.exports.service import _text

    if value is None:
        return ""
    if time:
        return local_time(value, tz_name)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (str, int)) for v in value):
            return _text(";".join(str(v) for v in value))
        return _text(json.dumps(value, ensure_ascii=False, sort_keys=True))
    if isinstance(value, dict):
        return _text(json.dumps(value, ensure_ascii=False, sort_keys=True))
    if isinstance(value, int):
        return str(value)
    return _text(str(value))


def _is_time_key(key):
    return key.endswith("_at") or key == "at"


def section_titles():
    """The pack's section headings in the current language."""
    return {
        "meta": _("Report pack"),
        "facts": _("Facts"),
        "ai_system": _("AI system"),
        "timeline": _("Timeline"),
        "escalations": _("Escalations"),
        "deliveries": _("Deliveries"),
        "deadlines": _("Deadlines"),
        "corrective_actions": _("Corrective actions"),
        "review_findings": _("Post-incident review findings"),
        "ledger": _("Ledger entries"),
        "ledger_verification": _("Ledger verification"),
        "checkpoint": _("Signed checkpoint"),
    }


CSV_SECTIONS = (
    "meta", "facts", "ai_system", "timeline", "escalations", "deliveries", "deadlines", "corrective_actions",
    "review_findings", "ledger", "ledger_verification", "checkpoint",
)

TIMELINE_COLUMNS = ("at", "action", "actor_name", "from_state", "to_state", "transition", "comment", "fields",
                    "changes")
ESCALATION_COLUMNS = ("id", "level", "reason", "rule", "recipients", "created_at", "acknowledged_at",
                      "acknowledged_by")
DELIVERY_COLUMNS = ("escalation", "channel", "recipient", "round", "status", "attempts", "error", "sent_at")
DEADLINE_COLUMNS = ("rule", "label", "kind", "source", "period", "due_at", "met_at", "met_by", "outcome")
FINDING_COLUMNS = ("field", "label", "value", "at", "actor_name", "transition")
LEDGER_COLUMNS = ("seq", "at", "actor", "action", "subject_type", "subject_id", "payload", "prev_hash", "hash")


def csv_rows(pack):
    """The pack as rows: ``section, key, value...`` (key/value sections: field and value;
    tabular sections: a ``#`` header row of column names, then one row per item keyed by
    its number, or its sequence number for the ledger). Times in the organisation's zone."""
    tz = pack["organisation"]["timezone"]
    locale = pack.get("language", "en")
    with force_locale(locale):
        titles = section_titles()
    yield ["section", "key", "value"]

    def title(section):
        return [section, "_title", titles[section]]

    def kv(section, mapping):
        yield title(section)
        for key, value in (mapping or {}).items():
            if key == "deadlines":
                continue  # its own section
            if isinstance(value, dict) and key in ("reporter", "assignee", "ai_system", "owner", "generated_by"):
                value = (value or {}).get("name")
            yield [section, key, _cell(value, tz, time=_is_time_key(key) and isinstance(value, str))]

    def table(section, columns, items, key=None):
        yield title(section)
        yield [section, "#", *columns]
        for n, item in enumerate(items, start=1):
            row = [section, str(item[key]) if key else str(n)]
            for column in columns:
                value = item.get(column)
                if column == "fields":
                    value = "; ".join(f"{f['label']}: {f['value']}" for f in value or ())
                if column == "acknowledged_by" and isinstance(value, dict):
                    value = value.get("name")
                if column == "payload":
                    value = item.get("payload_text")
                row.append(_cell(value, tz, time=_is_time_key(column)))
            yield row

    meta = {"title": titles["meta"], "language": locale, "generated_at": pack["generated_at"],
            "generated_by": pack.get("generated_by"), "organisation": pack["organisation"]["name"],
            "organisation_slug": pack["organisation"]["slug"], "timezone": tz, "incident": pack["incident_ref"]}
    yield from kv("meta", meta)
    yield from kv("facts", pack["facts"])
    yield from kv("ai_system", pack["ai_system"] or {})
    yield from table("timeline", TIMELINE_COLUMNS, pack["timeline"])
    yield from table("escalations", ESCALATION_COLUMNS, pack["escalations"], key="id")
    deliveries = [dict(d, escalation=e["id"]) for e in pack["escalations"] for d in e["deliveries"]]
    yield from table("deliveries", DELIVERY_COLUMNS, deliveries)
    yield from table("deadlines", DEADLINE_COLUMNS, pack["deadlines"])
    yield from table("corrective_actions", FINDING_COLUMNS, pack["corrective_actions"])
    yield from table("review_findings", FINDING_COLUMNS, pack["review_findings"])
    yield from table("ledger", LEDGER_COLUMNS, pack["ledger"]["entries"], key="seq")
    verification = dict(pack["ledger_verification"])
    yield from kv("ledger_verification", verification)
    yield from kv("checkpoint", pack["checkpoint"] or {})


def to_csv_bytes(pack):
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer)  # excel dialect, CRLF, as app/exports
    for row in csv_rows(pack):
        writer.writerow(row)
    return buffer.getvalue().encode("utf-8")


def to_html_bytes(pack):
    """The printable page (needs a request context: it extends the base layout)."""
    from flask import render_template

    with force_locale(pack.get("language", "en")):
        return render_template("reports/pack.html", pack=pack, tz=pack["organisation"]["timezone"],
                               standalone=True, pack_time=display_time).encode("utf-8")


def render(pack, fmt):
    """``(bytes, filename, content_type)`` of the pack in ``fmt``."""
    check_format(fmt)
    if fmt == "json":
        data = to_json_bytes(pack)
    elif fmt == "csv":
        data = to_csv_bytes(pack)
    else:
        data = to_html_bytes(pack)
    return data, pack_filename(pack, fmt), CONTENT_TYPES[fmt]


# ---------------------------------------------------------------- jobs


def create_pack_job(*, actor, incident_id, fmt, locale):
    """Queue the building of a pack; returns the :class:`ExportJob` (status ``queued``)."""
    from app.ledger import service as ledger

    incident = incidents.get_incident(actor=actor, incident_id=incident_id)
    _require_role(actor)
    check_format(fmt)
    check_locale(locale)
    with transaction() as s:
        job = ExportJob(org_id=actor.org_id, user_id=actor.id, kind=JOB_KIND,
                        params={"incident_id": incident.id, "format": fmt, "locale": locale},
                        status="queued", progress=0, total=0)
        s.add(job)
        s.flush()
        ledger.record("report_pack_requested", actor=actor, subject_type="incident", subject_id=incident.id,
                      payload={"job": job.id, "format": fmt, "locale": locale, "ref": incident.ref})
        queue.enqueue(JOB_PATH, actor.org_id, job.id)
    return job


def _set_job(job_id, **values):
    with transaction() as s:
        s.execute(update(ExportJob).where(ExportJob.id == job_id).values(**values)
                  .execution_options(synchronize_session=False))


def run_pack_job(job_id):
    """Build a queued job's file (called by the job under the job's organisation's scope).

    A job that is done (or gone) is left alone, so running it twice is harmless. Progress
    is written in short transactions; a failure is recorded on the job and re-raised.
    """
    from app.ledger import service as ledger
    from app.orgs.models import User

    job = db.session.execute(select(ExportJob).where(ExportJob.id == job_id)).scalar_one_or_none()
    if job is None or job.status == "done":
        return
    params, user_id = dict(job.params or {}), job.user_id
    incident_id, fmt, locale = params.get("incident_id"), params.get("format", "json"), params.get("locale", "ja")
    db.session.rollback()  # end the read snapshot before writing
    _set_job(job_id, status="running", progress=0, error="")
    try:
        user = db.session.execute(select(User).where(User.id == user_id)).scalar_one_or_none()
        if user is None or not user.active:
            raise Forbidden("the user who asked for this report pack is no longer active")
        last = {"at": None}

        def progress(done, total):
            now = utcnow()
            # Short transactions, at most a few a second (and always the last one).
            if done < total and last["at"] is not None and (now - last["at"]).total_seconds() < 0.2:
                return
            last["at"] = now
            _set_job(job_id, progress=done, total=total)

        pack = build_pack(actor=user, incident_id=incident_id, locale=locale, progress=progress)
        if fmt == "html":
            with current_app.test_request_context("/"):
                data, name, content_type = render(pack, fmt)
        else:
            data, name, content_type = render(pack, fmt)
        total = len(SECTIONS) + len(pack["ledger"]["entries"])
        with transaction() as s:
            row = s.execute(select(ExportJob).where(ExportJob.id == job_id)).scalar_one()
            if row.status == "done":
                return
            row.status, row.progress, row.total = "done", total, total
            row.result, row.filename, row.content_type = data, name, content_type
            row.finished_at = utcnow()
            ledger.record("report_pack_built", actor=JOB_ACTOR, org_id=row.org_id, subject_type="incident",
                          subject_id=incident_id, payload={
                              "job": job_id, "format": fmt, "locale": locale, "filename": name,
                              "bytes": len(data), "ledger_entries": len(pack["ledger"]["entries"]),
                              "ledger_ok": pack["ledger_verification"]["ok"]})
    except Exception as exc:
        db.session.rollback()
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        with transaction() as s:
            row = s.execute(select(ExportJob).where(ExportJob.id == job_id)).scalar_one_or_none()
            if row is not None and row.status != "done":
                row.status, row.error, row.finished_at = "failed", message[:2000], utcnow()
                ledger.record("report_pack_failed", actor=JOB_ACTOR, org_id=row.org_id, subject_type="incident",
                              subject_id=incident_id, payload={"job": job_id, "error": message[:500]})
        if not isinstance(exc, AppError):
            raise  # a bug or an outage: let the queue retry it


def get_job(*, actor, job_id):
    """A job of the actor's organisation: their own, or any when admin; else NotFound."""
    stmt = select(ExportJob).where(ExportJob.id == job_id)
    if actor.role != "admin":
        stmt = stmt.where(ExportJob.user_id == actor.id)
    job = db.session.execute(stmt).scalar_one_or_none()
    if job is None:
        raise NotFound("report job not found")
    return job


def job_result(*, actor, job_id):
    """``(bytes, filename, content_type)`` of a finished job; 409 while it is not done."""
    job = get_job(actor=actor, job_id=job_id)
    if job.status != "done" or job.result is None:
        raise Conflict(f"the report pack is not ready (status: {job.status})")
    return bytes(job.result), job.filename, job.content_type


def job_view(job):
    """A job as the API and the progress page show it."""
    params = job.params or {}
    percent = int(100 * job.progress / job.total) if job.total else (100 if job.status == "done" else 0)
    return {
        "id": job.id, "kind": job.kind, "status": job.status, "progress": job.progress, "total": job.total,
        "percent": percent, "incident_id": params.get("incident_id"), "format": params.get("format"),
        "lang": params.get("locale"), "filename": job.filename, "content_type": job.content_type,
        "error": job.error, "created_at": _iso(job.created_at), "finished_at": _iso(job.finished_at),
    }
