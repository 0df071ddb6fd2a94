"""Report pack API: an incident's regulator-ready pack (JSON or CSV), and packs built as jobs."""
from flask import current_app, g, request, url_for

from app.api import bp
from app.api.openapi import COMPONENT_SCHEMAS, doc
from app.api.util import json_body, load, query, shared
from app.reports import service as reports
from app.reports.responses import attachment
from app.reports.schemas import ReportJobCreateSchema, ReportJobSchema, ReportPackQuerySchema

COMPONENT_SCHEMAS.setdefault("ReportJobCreate", ReportJobCreateSchema)
COMPONENT_SCHEMAS.setdefault("ReportJob", ReportJobSchema)
# A pack is a JSON object, or one CSV file (format=csv).
PACK_CONTENT = {"application/json": {"type": "object"}, "text/csv": {"type": "string"}}
# A job may also build the printable HTML page.
JOB_CONTENT = {**PACK_CONTENT, "text/html": {"type": "string"}}


def _locale(given=None):
    """``lang`` when given, else the caller's saved language, else Accept-Language."""
    if given in reports.LOCALES:
        return given
    languages = current_app.config["LANGUAGES"]
    if g.api_user.locale in languages:
        return g.api_user.locale
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def _job(job):
    view = reports.job_view(job)
    view["download_url"] = (url_for("api.download_report_job", job_id=job.id)
                            if job.status == "done" else None)
    return shared(ReportJobSchema).dump(view)


@bp.get("/incidents/<int:incident_id>/report-pack")
@doc("The incident's regulator-ready report pack (JSON, or CSV with format=csv)", tag="Reports",
     query=ReportPackQuerySchema, errors=(401, 403, 404, 422), content=PACK_CONTENT)
def get_report_pack(incident_id):
    """Staff only (reporters: 403). JSON: generated_at, organisation, facts (the staff view), ai_system,
    timeline (oldest first, with actors and transition fields), escalations (with deliveries), deadlines
    (due_at, met_at, met_by, outcome met_on_time|met_late|open), corrective_actions, review_findings,
    ledger.entries (seq, at, actor, action, payload, prev_hash, hash), ledger_verification (ok, first_bad)
    and checkpoint (the latest signed checkpoint document, or null). Times in UTC. format=csv answers one
    text/csv file (UTF-8 with BOM) with the same sections as rows, times in the organisation's zone."""
    args = query(shared(ReportPackQuerySchema))
    pack = reports.build_pack(actor=g.api_user, incident_id=incident_id, locale=_locale(args.get("lang")))
    if args["format"] == "csv":
        data, filename, content_type = reports.render(pack, "csv")
        return attachment(data, filename, content_type)
    return pack


@bp.post("/incidents/<int:incident_id>/report-pack/jobs")
@doc("Build the incident's report pack in the background", tag="Reports", body=ReportJobCreateSchema,
     response=ReportJobSchema, status=202, errors=(400, 401, 403, 404, 415, 422))
def create_report_job(incident_id):
    """202 with the job (status queued). Poll GET /report-jobs/{job_id} until status is done, then
    download. The body is optional (format json, the caller's language)."""
    data = load(shared(ReportJobCreateSchema), json_body() if request.get_data() else {})
    job = reports.create_pack_job(actor=g.api_user, incident_id=incident_id, fmt=data["format"],
                                  locale=_locale(data.get("lang")))
    response = current_app.json.response(_job(job))
    response.status_code = 202
    response.headers["Location"] = url_for("api.get_report_job", job_id=job.id)
    return response


@bp.get("/report-jobs/<int:job_id>")
@doc("A report pack job: status and progress", tag="Reports", response=ReportJobSchema, errors=(401, 404))
def get_report_job(job_id):
    """The caller's own jobs (admins: every job of the organisation)."""
    return _job(reports.get_job(actor=g.api_user, job_id=job_id))


@bp.get("/report-jobs/<int:job_id>/download")
@doc("The file a finished report pack job built (JSON, CSV or the printable HTML page)", tag="Reports",
     errors=(401, 404, 409), content=JOB_CONTENT)
def download_report_job(job_id):
    """The stored bytes with their file name and content type; 409 while the job is not done."""
    data, filename, content_type = reports.job_result(actor=g.api_user, job_id=job_id)
    return attachment(data, filename, content_type)
