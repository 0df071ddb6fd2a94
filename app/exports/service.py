"""Exports of the incidents a caller may see, streamed: CSV, JSON and an AIID / OECD AIM draft.

Every export walks ``incidents.list_incidents`` page by page through its keyset cursor,
so it is scoped to the caller's organisation and visibility (a reporter gets their own
incidents) exactly as the list is, applies the list's filters, and never holds more
than one page in memory. The public functions check their arguments eagerly and return
generators of ``bytes`` chunks, ready for a streamed response.

- **CSV** (:data:`CSV_COLUMNS`): UTF-8 with a byte order mark (so Excel opens Japanese
  correctly), CRLF line ends, stable English column names, times in ISO 8601 with the
  offset of the organisation's time zone, lists as semicolon-joined codes. Columns a
  reporter's view of an incident does not carry (see ``IncidentReporterViewSchema``)
  are left empty for reporters; ``reporter`` is empty when ``can_see_reporter`` says no.
  A free-text cell that starts with ``= + - @``, a tab or CR gets a leading ``'`` so a
  spreadsheet never runs it as a formula (CSV injection).
- **JSON**: an array of the caller's API view of each incident
  (``app.incidents.schemas.incident_schema``), the same objects ``GET /api/v1/incidents``
  gives.
- **AIID** (:func:`aiid_record`): one object per incident with the facts a submission
  to the AI Incident Database (incidentdatabase.ai) or the OECD AI Incidents Monitor
  asks for, labels in English, marked as a draft to review. Staff only (reporters: 403).
  Confidential incidents are left out unless the caller is an admin and asks for them
  with ``include_confidential`` (anyone else asking gets 403). The reporter is never in it.
"""
import csv
import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale

from app.errors import Forbidden
from app.incidents import service as incidents
from app.incidents import vocab
from app.incidents.schemas import incident_schema

PAGE_SIZE = 200  # incidents per query while streaming (the list's maximum page)

CSV_COLUMNS = (
    "ref", "title", "description", "kind", "severity", "state", "workflow",
    "occurred_at", "aware_at", "filed_at", "ai_system", "jurisdictions", "harm_types",
    "harmed_parties", "harmed_count", "sector", "principles", "personal_data", "deaths",
    "serious_incident", "critical_infrastructure", "widespread_infringement",
    "reporter", "assignee", "acknowledged_at", "resolved_at", "next_deadline",
)
# The columns a reporter's view carries (IncidentReporterViewSchema); the rest stay empty for them.
REPORTER_COLUMNS = frozenset((
    "ref", "title", "description", "kind", "severity", "state", "workflow", "occurred_at",
    "aware_at", "filed_at", "ai_system", "jurisdictions", "harm_types", "next_deadline",
))
CSV_MIMETYPE = "text/csv; charset=utf-8"
JSON_MIMETYPE = "application/json; charset=utf-8"
BOM = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

AIID_SOURCE = "internal incident report"
AIID_NOTE = (
    "Draft generated from an internal incident report. Review every field, remove anything "
    "confidential or personal, and confirm the organisation agrees before submitting it to the "
    "AI Incident Database (incidentdatabase.ai) or the OECD AI Incidents Monitor."
)
DEPLOYER_ROLES = ("business_user", "provider")


# ---------------------------------------------------------------- walking the incidents


def iter_incidents(*, actor, filters=None, page_size=PAGE_SIZE):
    """Every incident ``actor`` may see that matches ``filters``, newest first, one page at a time."""
    cursor = None
    while True:
        items, cursor = incidents.list_incidents(actor=actor, filters=filters or {}, limit=page_size, cursor=cursor)
        yield from items
        if not cursor:
            return


def _pages(actor, filters, page_size):
    """The incidents in lists of at most ``page_size`` (one chunk of output per page)."""
    page = []
    for incident in iter_incidents(actor=actor, filters=filters, page_size=page_size):
        page.append(incident)
        if len(page) >= page_size:
            yield page
            page = []
    if page:
        yield page


def clean_filters(filters):
    """Only the filters the incident list understands (a cursor or a limit is not a filter)."""
    return {key: value for key, value in (filters or {}).items()
            if key in incidents.FILTERS and value not in (None, "")}


def org_zone(actor):
    """The time zone of the actor's organisation."""
    name = getattr(actor.organisation, "timezone", None) or current_app.config.get("DEFAULT_TIMEZONE", "Asia/Tokyo")
    return ZoneInfo(name)


def filename(*, actor, fmt, now=None):
    """The dated file name of a download, e.g. ``incidents-acme-20260401.csv``."""
    today = (now or datetime.now(org_zone(actor))).astimezone(org_zone(actor)).strftime("%Y%m%d")
    stem = {"csv": "incidents", "json": "incidents", "aiid": "incidents-aiid"}[fmt]
    extension = "csv" if fmt == "csv" else "json"
    return f"{stem}-{actor.organisation.slug}-{today}.{extension}"


# ---------------------------------------------------------------- CSV


def _time(value, tz):
    return value.astimezone(tz).isoformat(timespec="seconds") if value is not None else ""


def _codes(values):
    return ";".join(values or ())


def _flag(value):
    return "true" if value else "false"


def _text(value):
    """A free-text cell, defused against formula injection."""
    value = value or ""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _person(user):
    return f"{user.name} <{user.email}>" if user is not None else ""


def csv_record(incident, *, viewer, tz):
    """One incident as ``{column: text}`` in the viewer's audience (see the module notes)."""
    due = incident.queue_due_at
    shows_reporter = (
        incidents.can_see_reporter(viewer=viewer, incident=incident) and viewer.role in incidents.STAFF_ROLES
    )
    record = {
        "ref": incident.ref,
        "title": _text(incident.title),
        "description": _text(incident.description),
        "kind": incident.kind,
        "severity": incident.severity,
        "state": incident.state,
        "workflow": incident.workflow,
        "occurred_at": _time(incident.occurred_at, tz),
        "aware_at": _time(incident.aware_at, tz),
        "filed_at": _time(incident.created_at, tz),
        "ai_system": _text(incident.ai_system.name) if incident.ai_system else "",
        "jurisdictions": _codes(incident.jurisdictions),
        "harm_types": _codes(incident.harm_types),
        "harmed_parties": _codes(incident.harmed_parties),
        "harmed_count": "" if incident.harmed_count is None else str(incident.harmed_count),
        "sector": incident.sector or "",
        "principles": _codes(incident.principles),
        "personal_data": _flag(incident.personal_data),
        "deaths": str(incident.deaths or 0),
        "serious_incident": _flag(incident.serious_incident),
        "critical_infrastructure": _flag(incident.critical_infrastructure),
        "widespread_infringement": _flag(incident.widespread_infringement),
        "reporter": _text(_person(incident.reporter)) if shows_reporter else "",
        "assignee": _text(_person(incident.assignee)),
        "acknowledged_at": _time(incident.acknowledged_at, tz),
        "resolved_at": _time(incident.resolved_at, tz),
        "next_deadline": _time(due, tz) if due is not None and due.year < 9999 else "",
    }
    if viewer.role not in incidents.STAFF_ROLES:
        record = {key: (value if key in REPORTER_COLUMNS else "") for key, value in record.items()}
    return record


def csv_chunks(*, actor, filters=None, page_size=PAGE_SIZE):
    """The CSV export as a generator of UTF-8 chunks: BOM and header first, then a chunk per page."""
    filters = clean_filters(filters)
    tz = org_zone(actor)

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)  # excel dialect: quotes where needed, CRLF line ends
        buffer.write(BOM)
        writer.writerow(CSV_COLUMNS)
        yield buffer.getvalue().encode("utf-8")
        for page in _pages(actor, filters, page_size):
            buffer.seek(0)
            buffer.truncate()
            for incident in page:
                record = csv_record(incident, viewer=actor, tz=tz)
                writer.writerow([record[column] for column in CSV_COLUMNS])
            yield buffer.getvalue().encode("utf-8")

    return generate()


# ---------------------------------------------------------------- JSON arrays


def _json_array(objects_by_page):
    """Stream lists of JSON-able objects as one JSON array (UTF-8, Japanese unescaped)."""
    yield b"["
    first = True
    for objects in objects_by_page:
        if not objects:
            continue
        text = ",\n".join(json.dumps(obj, ensure_ascii=False) for obj in objects)
        yield (("\n" if first else ",\n") + text).encode("utf-8")
        first = False
    yield b"\n]\n"


def json_chunks(*, actor, filters=None, page_size=PAGE_SIZE):
    """The JSON export: an array of the caller's API view of each incident, streamed."""
    filters = clean_filters(filters)
    schema = incident_schema(actor)
    return _json_array([schema.dump(incident) for incident in page] for page in _pages(actor, filters, page_size))


# ---------------------------------------------------------------- AI Incident Database / OECD AIM


def english_labels():
    """The vocabularies' labels in English, for a submission outside Japan."""
    with force_locale("en"):
        return {
            name: {code: str(label) for code, label in table.items()}
            for name, table in (
                ("harm_types", vocab.HARM_TYPES), ("harmed_parties", vocab.HARMED_PARTIES),
                ("sectors", vocab.SECTORS), ("jurisdictions", vocab.JURISDICTIONS),
                ("severities", vocab.SEVERITIES), ("kinds", vocab.KINDS),
            )
        }


def _labels(table, codes):
    return [table.get(code, code) for code in codes or ()]


def _date(value, tz):
    return value.astimezone(tz).date().isoformat() if value is not None else None


def deployer_and_developer(incident, org):
    """Who deployed and who developed the AI system, as far as the inventory says."""
    system = incident.ai_system
    if system is None:
        return None, None
    if system.actor_role == "developer":
        return None, system.developer or org.name
    deployer = org.name if system.actor_role in DEPLOYER_ROLES else None
    return deployer, system.developer or None


def aiid_record(incident, *, org, tz, labels):
    """One incident as an AIID / OECD AIM submission draft (labels from :func:`english_labels`)."""
    system = incident.ai_system
    deployer, developer = deployer_and_developer(incident, org)
    model = " ".join(part for part in (system.model_name, system.model_version) if part) if system else ""
    return {
        "incident_id": incident.ref,
        "title": incident.title,
        "description": incident.description,
        "date": _date(incident.occurred_at, tz),
        "date_aware": _date(incident.aware_at, tz),
        "date_reported": _date(incident.created_at, tz),
        "incident_type": labels["kinds"].get(incident.kind, incident.kind),
        "deployer": deployer,
        "developer": developer,
        "harmed_parties": _labels(labels["harmed_parties"], incident.harmed_parties),
        "harmed_count": incident.harmed_count,
        "deaths": incident.deaths or 0,
        "harm_types": _labels(labels["harm_types"], incident.harm_types),
        "severity": incident.severity,
        "severity_label": labels["severities"].get(incident.severity, incident.severity),
        "jurisdictions": list(incident.jurisdictions or ()),
        "countries": _labels(labels["jurisdictions"], incident.jurisdictions),
        "ai_system": None if system is None else {
            "name": system.name, "purpose": system.purpose or None, "model": model or None,
        },
        "sector": labels["sectors"].get(incident.sector) if incident.sector else None,
        "source": AIID_SOURCE,
        "submission_note": AIID_NOTE,
    }


def aiid_chunks(*, actor, filters=None, include_confidential=False, page_size=PAGE_SIZE):
    """The AIID / OECD AIM draft export, streamed; 403 for reporters, and for non-admins asking for confidential ones."""
    if actor.role not in incidents.STAFF_ROLES:
        raise Forbidden("the AI Incident Database export is for staff")
    if include_confidential and actor.role != "admin":
        raise Forbidden("only admins may include confidential incidents")
    filters = clean_filters(filters)
    tz, org, labels = org_zone(actor), actor.organisation, english_labels()

    def pages():
        for page in _pages(actor, filters, page_size):
            yield [aiid_record(incident, org=org, tz=tz, labels=labels)
                   for incident in page if include_confidential or not incident.confidential]

    return _json_array(pages())
