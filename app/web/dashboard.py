"""The executives' dashboard: KPI tiles, server-drawn SVG charts with table views, CSV downloads.

Executives and admins only (others 403). Every figure links to the incident list filtered
to the incidents behind it; every table downloads as CSV (UTF-8 with a BOM, for Excel).
"""
import csv
import io
from datetime import datetime
from urllib.parse import urlencode

from flask import Response, abort, render_template, request, url_for
from flask_babel import get_locale, gettext as _
from flask_login import current_user

from app.dashboard import charts
from app.dashboard import service as dashboard
from app.errors import ValidationFailed
from app.incidents import vocab
from app.liaison import vocab as liaison_vocab
from app.systems import vocab as system_vocab
from app.web import bp
from app.web.helpers import roles_required

TABLES = ("open_by_severity", "open_by_state", "overdue_deadlines", "due_next_7_days", "trends", "by_ai_system",
          "by_harm_type", "by_principle", "by_actor_role", "by_jurisdiction", "response_targets",
          "ministry_requests", "escalations_by_level")


def _period_args():
    """The period of the request: ``days`` (30, 90, 365) or ``since``/``until`` (custom)."""
    days = request.args.get("days", type=int)
    since, until = request.args.get("since") or None, request.args.get("until") or None
    if since or until:
        return {"since": since, "until": until}, "custom"
    if days not in dashboard.PERIODS:
        days = dashboard.DEFAULT_DAYS
    return {"days": days}, str(days)


def _metrics():
    args, choice = _period_args()
    try:
        return dashboard.metrics(actor=current_user, **args), choice, None
    except ValidationFailed as exc:
        message = "; ".join(m for ms in exc.fields.values() for m in ms)
        return dashboard.metrics(actor=current_user), str(dashboard.DEFAULT_DAYS), message


def _incidents_url(flt):
    return url_for("web.incidents_list") + ("?" + urlencode(flt) if flt else "")


def _label(mapping, code):
    return str(mapping[code]) if code in mapping else code


def _state_label(m, code):
    labels = m["open_by_state_labels"].get(code) or {}
    return labels.get(str(get_locale()), labels.get("en", code))


def _duration(seconds):
    """MTTA/MTTR for people: hours below two days, else days."""
    if seconds is None:
        return "–"
    hours = seconds / 3600
    if hours < 48:
        return _("%(n)s h", n=f"{hours:,.1f}")
    return _("%(n)s d", n=f"{hours / 24:,.1f}")


def _hours(seconds):
    return None if seconds is None else round(seconds / 3600, 1)


def tables(m):
    """Every table of the dashboard: ``{name: {title, columns, rows, hrefs}}`` (rows are lists)."""
    out = {}

    def add(name, title, columns, rows, hrefs):
        out[name] = {"title": title, "columns": columns, "rows": rows, "hrefs": hrefs}

    sev = list(m["open_by_severity"].items())
    add("open_by_severity", _("Open incidents by severity"), [_("Code"), _("Severity"), _("Open incidents")],
        [[c, _label(vocab.SEVERITIES, c), n] for c, n in sev],
        [_incidents_url(m["open_by_severity_filters"][c]) for c, _n in sev])
    st = list(m["open_by_state"].items())
    add("open_by_state", _("Open incidents by state"), [_("Code"), _("State"), _("Open incidents")],
        [[c, _state_label(m, c), n] for c, n in st], [_incidents_url(m["open_by_state_filters"][c]) for c, _n in st])
    for name, title in (("overdue_deadlines", _("Overdue deadlines")),
                        ("due_next_7_days", _("Deadlines due in the next 7 days"))):
        items = m[name]["items"]
        add(name, title, [_("Incident"), _("Title"), _("Severity"), _("Rule"), _("Kind"), _("Due (UTC)")],
            [[i["ref"], i["title"], i["severity"], i["rule"], i["kind"], i["due_at"]] for i in items],
            [url_for("web.incident_detail", incident_id=i["incident_id"]) for i in items])
    add("trends", _("Weekly response times"),
        [_("Week starting"), _("ISO week"), _("Filed"), _("Acknowledged"), _("MTTA (hours)"), _("Resolved"),
         _("MTTR (hours)")],
        [[w["week_start"], w["iso_week"], w["count"], w["acknowledged"], _hours(w["mtta_seconds"]), w["resolved"],
          _hours(w["mttr_seconds"])] for w in m["trends"]],
        [_incidents_url(w["filter"]) for w in m["trends"]])
    add("by_ai_system", _("Incidents by AI system"), [_("AI system"), _("Actor role"), _("Incidents")],
        [[r["name"] or _("No AI system recorded"), _label(system_vocab.ACTOR_ROLE_LABELS, r["actor_role"])
          if r["actor_role"] != "none" else "–", r["count"]] for r in m["by_ai_system"]],
        [_incidents_url(r["filter"]) for r in m["by_ai_system"]])
    for name, title, head, mapping in (
        ("by_harm_type", _("Incidents by harm type"), _("Harm type"), vocab.HARM_TYPES),
        ("by_principle", _("Incidents by AI Guidelines principle"), _("Principle"), vocab.PRINCIPLES),
        ("by_actor_role", _("Incidents by actor role"), _("Actor role"), system_vocab.ACTOR_ROLE_LABELS),
        ("by_jurisdiction", _("Incidents by jurisdiction"), _("Jurisdiction"), vocab.JURISDICTIONS),
    ):
        rows = m[name]
        add(name, title, [_("Code"), head, _("Incidents")],
            [[r["key"], _label(mapping, r["key"]) if r["key"] != "none" else _("No AI system recorded"), r["count"]]
             for r in rows], [_incidents_url(r["filter"]) for r in rows])
    rt = m["response_targets"]
    status_labels = _status_labels()
    add("response_targets", _("Response-target compliance"), [_("Code"), _("Status"), _("Targets"), _("Percent")],
        [[k, status_labels[k], rt[k], round(100.0 * rt[k] / rt["total"], 1) if rt["total"] else None]
         for k in dashboard.COMPLIANCE_KEYS],
        [_incidents_url(rt["filters"][k]) for k in dashboard.COMPLIANCE_KEYS])
    mr = m["ministry_requests"]["items"]
    add("ministry_requests", _("Open ministry requests"),
        [_("Ministry"), _("Kind"), _("Reference"), _("Received (UTC)"), _("Due (UTC)")],
        [[liaison_vocab.ministry_label(r["ministry"], str(get_locale())), _label(liaison_vocab.KINDS, r["kind"]),
          r["reference"], r["received_at"], r["due_at"] or ""] for r in mr],
        [url_for("web.ministry_request_detail", request_id=r["id"]) for r in mr])
    levels = list(m.get("escalations_by_level", {}).items())
    add("escalations_by_level", _("Escalations by level"), [_("Level"), _("Name"), _("Escalations")],
        [[int(k), _escalation_level_label(k), n] for k, n in levels],
        [url_for("web.escalations_page") for _k, _n in levels])
    return out


def _escalation_level_label(level):
    """The default escalation policy's label of a level, in the page language."""
    from app.escalation import policy as policies

    policy = policies.policies().get("default")
    found = policy.level(int(level)) if policy is not None else None
    return found.label.get(str(get_locale())) if found is not None else _("Level %(n)s", n=level)


def _status_labels():
    return {"met_on_time": _("Met on time"), "met_late": _("Met late"), "overdue": _("Overdue")}


def _charts(m, t):
    """The SVG charts of the page, by table name."""
    count = _("Number of incidents")
    none = _("No incidents in this period.")
    sev_rows = [{"label": r[1], "value": r[2], "href": h, "colour": charts.SEVERITY_COLOURS.get(r[0])}
                for r, h in zip(t["open_by_severity"]["rows"], t["open_by_severity"]["hrefs"])]

    def bars(name, y_label, label_col=1, value_col=2):
        return charts.bar_chart(
            chart_id=f"chart-{name}", title=t[name]["title"], x_label=count, y_label=y_label, empty_text=none,
            rows=[{"label": r[label_col], "value": r[value_col], "href": h}
                  for r, h in zip(t[name]["rows"], t[name]["hrefs"])])

    out = {
        "open_by_severity": charts.bar_chart(chart_id="chart-open_by_severity", title=t["open_by_severity"]["title"],
                                             rows=sev_rows, x_label=count, y_label=_("Severity"),
                                             empty_text=_("No open incidents.")),
        "open_by_state": bars("open_by_state", _("State")),
        "by_ai_system": bars("by_ai_system", _("AI system"), 0, 2),
        "by_harm_type": bars("by_harm_type", _("Harm type")),
        "by_principle": bars("by_principle", _("Principle")),
        "by_actor_role": bars("by_actor_role", _("Actor role")),
        "by_jurisdiction": bars("by_jurisdiction", _("Jurisdiction")),
        "escalations_by_level": charts.bar_chart(
            chart_id="chart-escalations_by_level", title=t["escalations_by_level"]["title"],
            x_label=_("Number of escalations"), y_label=_("Level"), empty_text=_("No escalations in this period."),
            rows=[{"label": f"{r[0]} · {r[1]}", "value": r[2], "href": h}
                  for r, h in zip(t["escalations_by_level"]["rows"], t["escalations_by_level"]["hrefs"])]),
    }
    rt = t["response_targets"]
    out["response_targets"] = charts.stacked_bar(
        chart_id="chart-response_targets", title=rt["title"], x_label=_("Share of response targets due in the period"),
        empty_text=_("No response targets fell due in this period."),
        segments=[{"label": r[1], "value": r[2], "href": h, "colour": charts.STATUS_COLOURS[r[0]]}
                  for r, h in zip(rt["rows"], rt["hrefs"])])
    out["trends"] = charts.line_chart(
        chart_id="chart-trends", title=_("MTTA and MTTR per week (hours)"),
        labels=[w["week_start"][5:] for w in m["trends"]], x_label=_("Week starting (month-day)"),
        y_label=_("Hours"), empty_text=_("No incidents acknowledged or resolved in these weeks."),
        series=[{"name": _("MTTA: filing to acknowledgement"), "values": [_hours(w["mtta_seconds"]) for w in m["trends"]]},
                {"name": _("MTTR: filing to resolution"), "values": [_hours(w["mttr_seconds"]) for w in m["trends"]],
                 "colour": "#b3261e"}])
    return out


def _deadline_items(items):
    return [dict(i, due=datetime.fromisoformat(i["due_at"])) for i in items]


@bp.get("/dashboard")
@roles_required(*dashboard.PAGE_ROLES)
def dashboard_page():
    """The executives' dashboard for the chosen period."""
    m, choice, problem = _metrics()
    t = tables(m)
    period_query = {"since": m["period"]["since"], "until": m["period"]["until"]}
    return render_template(
        "dashboard/index.html", m=m, t=t, charts=_charts(m, t), choice=choice, problem=problem,
        periods=dashboard.PERIODS, period_query=period_query, duration=_duration,
        overdue=_deadline_items(m["overdue_deadlines"]["items"]), soon=_deadline_items(m["due_next_7_days"]["items"]),
        incidents_url=_incidents_url, status_labels=_status_labels(),
    )


@bp.get("/dashboard/<name>.csv")
@roles_required(*dashboard.PAGE_ROLES)
def dashboard_csv(name):
    """One table of the dashboard as CSV for the same period (UTF-8 with BOM, header row)."""
    if name not in TABLES:
        abort(404)
    m, _choice, _problem = _metrics()
    table = tables(m)[name]
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table["columns"])
    for row in table["rows"]:
        writer.writerow(["" if v is None else v for v in row])
    filename = f"dashboard-{name}-{m['period']['since']}-{m['period']['until']}.csv"
    return Response(buffer.getvalue().encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
