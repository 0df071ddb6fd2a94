"""Report pack pages: the printable pack of an incident, its JSON and CSV downloads, and
packs built as background jobs (a progress page and the download)."""
from flask import abort, redirect, render_template, request, url_for
from flask_babel import force_locale, get_locale
from flask_login import current_user, login_required

from app.reports import service as reports
from app.reports.responses import attachment
from app.web import bp


def pack_locale():
    """``?lang=ja|en`` when given (anything else is a 404-free fallback), else the page's language."""
    lang = (request.args.get("lang") or request.form.get("lang") or "").strip()
    if lang in reports.LOCALES:
        return lang
    current = str(get_locale() or "ja")
    return "ja" if current.startswith("ja") else "en"


@bp.get("/incidents/<int:incident_id>/report-pack")
@login_required
def report_pack_page(incident_id):
    """The report pack as a printable page, in ``?lang=`` or the user's language."""
    locale = pack_locale()
    pack = reports.build_pack(actor=current_user, incident_id=incident_id, locale=locale)
    with force_locale(locale):
        return render_template("reports/pack.html", pack=pack, tz=pack["organisation"]["timezone"],
                               standalone=False, incident_id=incident_id, lang=locale,
                               formats=reports.FORMATS)


@bp.get("/incidents/<int:incident_id>/report-pack.json")
@login_required
def report_pack_json(incident_id):
    """The report pack as JSON (a download)."""
    pack = reports.build_pack(actor=current_user, incident_id=incident_id, locale=pack_locale())
    return attachment(*reports.render(pack, "json"))


@bp.get("/incidents/<int:incident_id>/report-pack.csv")
@login_required
def report_pack_csv(incident_id):
    """The report pack as one CSV file (UTF-8 with BOM, sections as rows)."""
    pack = reports.build_pack(actor=current_user, incident_id=incident_id, locale=pack_locale())
    return attachment(*reports.render(pack, "csv"))


@bp.post("/incidents/<int:incident_id>/report-pack/jobs")
@login_required
def report_pack_job_start(incident_id):
    """Start building the pack in the background (format and lang from the form); go to its page."""
    fmt = request.form.get("format") or "json"
    if fmt not in reports.FORMATS:
        fmt = "json"
    job = reports.create_pack_job(actor=current_user, incident_id=incident_id, fmt=fmt, locale=pack_locale())
    return redirect(url_for("web.report_job_page", job_id=job.id), code=303)


@bp.get("/report-jobs/<int:job_id>")
@login_required
def report_job_page(job_id):
    """A job's progress (the page refreshes itself while it runs) and its download once done."""
    job = reports.get_job(actor=current_user, job_id=job_id)
    return render_template("reports/job.html", job=job, view=reports.job_view(job),
                           running=job.status in ("queued", "running"))


@bp.get("/report-jobs/<int:job_id>/download")
@login_required
def report_job_download(job_id):
    """The file a finished job built (409 while it is not done)."""
    data, filename, content_type = reports.job_result(actor=current_user, job_id=job_id)
    if not data and not filename:
        abort(404)
    return attachment(data, filename, content_type)


@bp.app_context_processor
def _report_helpers():
    return {
        "pack_time": reports.display_time,
        "can_build_report_pack": lambda user: user.is_authenticated and user.role in reports.PACK_ROLES,
    }

