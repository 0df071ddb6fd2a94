"""The dashboard's figures for one organisation: daily rollups and aggregates over indexes.

Nothing here loops over incidents in Python, and no figure reads more rows as history grows:

- the period's figures (filings by severity, AI system, actor role, harm type, principle and
  jurisdiction; MTTA and MTTR; the 12-week trends) sum the daily rollup rows of
  ``dashboard_daily`` (app/dashboard/models.py, kept by the flush hook in rollup.py in the same
  transaction as every change): at most days x keys rows, whatever the number of incidents;
- open incidents: the snapshot rows of the rollup (metric ``open``, one per state, severity,
  workflow and version, kept by the same hook), O(states x severities);
- response-target compliance: met on time / met late / unmet by due day from the rollup (metric
  ``tgt``, kept by the same hook on state_target deadlines); only today's unmet targets are
  counted live;
- deadlines: unmet ones on ``ix_deadline_dash_unmet`` (org_id, met_at, kind, due_at,
  incident_id), response targets of the period on ``ix_deadline_dash_kind_due``
  (org_id, kind, due_at, met_at).

Results are cached per organisation and period for ``DASHBOARD_METRICS_TTL_SECONDS``
(default 10; 0 under tests) in each process.

Each figure carries ``filter``: the query of the incident list (``/incidents``) that lists
the incidents behind it (see ``incidents.service.list_incidents``).
"""
import copy
import os
import time
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, func, select

from app.db import utcnow
from app.errors import Forbidden, ValidationFailed
from app.extensions import db
from app.incidents import vocab
from app.dashboard import rollup  # (also registers the hook that keeps the rollups)
from app.dashboard.models import DailyFigure
from app.incidents.models import Deadline, Incident, MinistryRequest
from app.systems.models import AISystem

# The dashboard page is for executives and admins; the metrics API also for leads and responders.
PAGE_ROLES = ("executive", "admin")
API_ROLES = ("responder", "lead", "executive", "admin")
PERIODS = (30, 90, 365)
DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366
TREND_WEEKS = 12
LIST_LIMIT = 10
SOON = timedelta(days=7)
COMPLIANCE_KEYS = ("met_on_time", "met_late", "overdue")
FACETS = ("harm_type", "principle", "jurisdiction")

_CACHE = {}
_CACHE_MAX = 1000


# ---------------------------------------------------------------- the period


def org_zone(org):
    """The organisation's time zone (Asia/Tokyo by default)."""
    return ZoneInfo(getattr(org, "timezone", None) or current_app.config.get("DEFAULT_TIMEZONE", "Asia/Tokyo"))


EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(9998, 12, 31)


def _parse_date(value, name):
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value.date()
    elif isinstance(value, date):
        parsed = value
    else:
        try:
            parsed = date.fromisoformat(str(value)[:10])
        except ValueError:
            raise ValidationFailed({name: ["Must be a date (YYYY-MM-DD)."]}) from None
    if not EARLIEST_DATE <= parsed <= LATEST_DATE:
        # Midnight of 0001-01-01 in Asia/Tokyo is before the first UTC instant Python has.
        raise ValidationFailed({name: [f"Must be between {EARLIEST_DATE} and {LATEST_DATE}."]})
    return parsed


def period(*, zone, since=None, until=None, days=None, now=None):
    """The period as dates in the org's zone and UTC bounds: ``{since, until, start, end, days}``.

    ``since`` and ``until`` are inclusive dates; the default is the last ``DEFAULT_DAYS`` days
    ending today. ``start``/``end`` are the UTC instants [since 00:00, until+1 00:00).
    """
    now = now or utcnow()
    today = now.astimezone(zone).date()
    until_d = _parse_date(until, "until") or today
    since_d = _parse_date(since, "since") or until_d - timedelta(days=(days or DEFAULT_DAYS) - 1)
    if since_d > until_d:
        raise ValidationFailed({"since": ["Must be on or before until."]})
    if (until_d - since_d).days >= MAX_DAYS:
        raise ValidationFailed({"since": [f"The period may span at most {MAX_DAYS} days."]})
    return {
        "since": since_d, "until": until_d, "days": (until_d - since_d).days + 1,
        "start": _midnight(since_d, zone), "end": _midnight(until_d + timedelta(days=1), zone),
    }


def _midnight(day, zone):
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(timezone.utc)


def _iso(value):
    return value.astimezone(timezone.utc).isoformat() if value is not None else None


def week_starts(*, zone, until, weeks=TREND_WEEKS):
    """The Mondays (org zone) of the ``weeks`` ISO weeks ending with the week of ``until``."""
    last = until - timedelta(days=until.weekday())
    return [last - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


# ---------------------------------------------------------------- helpers


def _mean(total, count):
    return None if not count else float(total) / count


def _period_filter(p):
    return {"filed_since": _iso(p["start"]), "filed_until": _iso(p["end"])}


def require_role(actor, roles=PAGE_ROLES):
    """Forbidden unless the actor's role is one of ``roles``."""
    if actor.role not in roles:
        raise Forbidden("the dashboard is for executives and admins")


# ---------------------------------------------------------------- the figures


def metrics(*, actor, since=None, until=None, days=None, roles=PAGE_ROLES, now=None):
    """Every figure of the dashboard for the actor's organisation and the period.

    ``since``/``until``: inclusive dates (ISO strings or dates) in the organisation's time zone;
    default the last ``days`` (90) days. Executives and admins (``roles``); others Forbidden.
    """
    require_role(actor, roles)
    zone = org_zone(actor.organisation)
    p = period(zone=zone, since=since, until=until, days=days, now=now)
    ttl = _ttl()
    key = (actor.org_id, p["since"], p["until"], str(zone))
    if ttl > 0 and now is None:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return copy.deepcopy(hit[1])
    value = _compute(actor, zone, p, now or utcnow())
    if ttl > 0 and now is None:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = (time.monotonic() + ttl, copy.deepcopy(value))
    return value


def _ttl():
    # Config first (the lead may add DASHBOARD_METRICS_TTL_SECONDS to config.py), then the environment.
    value = current_app.config.get("DASHBOARD_METRICS_TTL_SECONDS")
    if value is None:
        value = 0 if current_app.testing else int(os.environ.get("DASHBOARD_METRICS_TTL_SECONDS", "10"))
    return int(value)


def forget(org_id=None):
    """Drop cached figures (of one organisation, or all)."""
    for key in [k for k in _CACHE if org_id is None or k[0] == org_id]:
        _CACHE.pop(key, None)


def _compute(actor, zone, p, now):
    out = {
        "period": {"since": p["since"].isoformat(), "until": p["until"].isoformat(), "days": p["days"],
                   "timezone": str(zone), "start": _iso(p["start"]), "end": _iso(p["end"])},
        "generated_at": _iso(now),
    }
    out.update(_open(actor))
    out["overdue_deadlines"] = _deadlines(now, overdue=True, zone=zone)
    out["due_next_7_days"] = _deadlines(now, overdue=False)
    out.update(_response_times(p))
    out["trends"] = _trends(zone, p)
    out.update(_breakdowns(p))
    out["response_targets"] = _compliance(p, zone, now)
    out["escalations_by_level"] = _escalations_by_level(p)
    out["ministry_requests"] = _ministry_requests()
    return out


def _escalations_by_level(p):
    """``{"1": n, ...}``: escalations recorded in the period by level (on ix_escalation_org_created)."""
    from app.escalation import service as escalation

    counts = escalation.by_level(since=p["start"], until=p["end"])
    return {str(level): counts[level] for level in sorted(counts)}


def _state_labels(actor, keys):
    """``{state: {"en", "ja"}}`` from the workflow definitions the open incidents run."""
    from app.workflow import loader

    labels = {}
    for (workflow, version), states in keys.items():
        try:
            definition = loader.get_definition(org_id=actor.org_id, workflow_id=workflow, version=version)
        except Exception:  # a workflow that is gone: the code is the label
            definition = None
        for state in states:
            if state in labels:
                continue
            found = definition.states.get(state) if definition is not None else None
            if found is not None:
                labels[state] = {"en": found.label.en, "ja": found.label.ja}
    return labels


def _open(actor):
    # The snapshot rows of the rollup (metric "open"): one per (state, severity, workflow, version).
    rows = [(*rollup.parse_open_key(key), n) for key, n in db.session.execute(
        select(DailyFigure.key, DailyFigure.n)
        .where(DailyFigure.day == rollup.OPEN_DAY, DailyFigure.metric == "open", DailyFigure.n != 0)
    ).all()]
    by_severity = {code: 0 for code in vocab.SEVERITIES}
    by_state, keys = {}, {}
    for state, severity, workflow, version, n in rows:
        by_severity[severity] = by_severity.get(severity, 0) + n
        by_state[state] = by_state.get(state, 0) + n
        keys.setdefault((workflow, version), set()).add(state)
    labels = _state_labels(actor, keys)
    by_state = dict(sorted(by_state.items(), key=lambda kv: (-kv[1], kv[0])))
    return {
        "open_total": sum(by_severity.values()),
        "open_by_severity": by_severity,
        "open_by_severity_filters": {code: {"severity": code, "open": "1"} for code in by_severity},
        "open_by_state": by_state,
        "open_by_state_labels": {s: labels.get(s, {"en": s, "ja": s}) for s in by_state},
        "open_by_state_filters": {s: {"state": s, "open": "1"} for s in by_state},
    }


def _deadlines(now, *, overdue, zone=None):
    """Unmet regulatory and internal deadlines of open incidents: overdue, or due within 7 days."""
    window = Deadline.due_at < now if overdue else and_(Deadline.due_at >= now, Deadline.due_at < now + SOON)
    where = (Deadline.met_at.is_(None), Deadline.kind.in_(("regulatory", "internal")), window,
             Incident.is_open.is_(True))
    count = _overdue_count(now, zone) if overdue else db.session.execute(
        select(func.count(Deadline.id)).join(Incident, Incident.id == Deadline.incident_id).where(*where)
    ).scalar_one()
    rows = db.session.execute(
        select(Deadline.incident_id, Incident.number, Incident.title, Incident.severity, Deadline.rule,
               Deadline.kind, Deadline.due_at)
        .join(Incident, Incident.id == Deadline.incident_id).where(*where)
        .order_by(Deadline.due_at, Deadline.id).limit(LIST_LIMIT)
    ).all()
    items = [{
        "incident_id": r.incident_id, "ref": f"AI-{r.number:04d}", "title": r.title, "severity": r.severity,
        "rule": r.rule, "kind": r.kind, "due_at": _iso(r.due_at),
    } for r in rows]
    flt = {"overdue": "1"} if overdue else {"due_within_days": "7"}
    return {"count": count, "items": items, "filter": flt}


def _overdue_count(now, zone):
    """Unmet regulatory/internal deadlines of open incidents due before ``now``: the rollup's ``due``
    rows of the days before today (org zone), on ``ix_dashboard_daily_metric_key``, plus today's counted live."""
    today = now.astimezone(zone).date()
    before = db.session.execute(
        select(func.coalesce(func.sum(DailyFigure.n), 0))
        .where(DailyFigure.metric == "due", DailyFigure.day < today, DailyFigure.key == "unmet")
    ).scalar_one()
    live = db.session.execute(
        select(func.count(Deadline.id)).join(Incident, Incident.id == Deadline.incident_id)
        .where(Deadline.met_at.is_(None), Deadline.kind.in_(("regulatory", "internal")),
               Deadline.due_at >= _midnight(today, zone), Deadline.due_at < now, Incident.is_open.is_(True))
    ).scalar_one()
    return int(before) + live


def _daily(p_since, p_until, metrics):
    """Sums of the daily rollup rows of ``metrics`` in [p_since, p_until] (dates): {(metric, key, day): (n, s)}."""
    return db.session.execute(
        select(DailyFigure.metric, DailyFigure.key, DailyFigure.day, DailyFigure.n, DailyFigure.seconds)
        .where(DailyFigure.metric.in_(metrics), DailyFigure.day >= p_since, DailyFigure.day <= p_until)
    ).all()


def _response_times(p):
    totals = {"ack": [0, 0.0], "res": [0, 0.0]}
    for metric, _key, _day, n, seconds in _daily(p["since"], p["until"], ("ack", "res")):
        totals[metric][0] += n
        totals[metric][1] += seconds
    (ack_n, ack_s), (res_n, res_s) = totals["ack"], totals["res"]
    return {
        "mtta_seconds": _mean(ack_s, ack_n), "acknowledged_count": ack_n,
        "mtta_filter": {"acknowledged_since": _iso(p["start"]), "acknowledged_until": _iso(p["end"])},
        "mttr_seconds": _mean(res_s, res_n), "resolved_count": res_n,
        "mttr_filter": {"resolved_since": _iso(p["start"]), "resolved_until": _iso(p["end"])},
    }


def _trends(zone, p):
    """MTTA, MTTR and filings per ISO week (org zone) for the 12 weeks ending with ``until``'s week."""
    mondays = week_starts(zone=zone, until=p["until"])
    bounds = [_midnight(d, zone) for d in mondays] + [_midnight(mondays[-1] + timedelta(days=7), zone)]
    weeks = [{"week_start": d.isoformat(), "iso_week": "%d-W%02d" % d.isocalendar()[:2],
              "mtta_seconds": None, "mttr_seconds": None, "acknowledged": 0, "resolved": 0, "count": 0,
              "filter": {"filed_since": _iso(bounds[i]), "filed_until": _iso(bounds[i + 1])}}
             for i, d in enumerate(mondays)]
    sums = [{"ack": [0, 0.0], "res": [0, 0.0]} for _ in mondays]
    first = mondays[0]
    for metric, key, day, n, seconds in _daily(first, mondays[-1] + timedelta(days=6), ("ack", "res", "filed")):
        i = (day - first).days // 7
        if metric == "filed":
            if key == "":
                weeks[i]["count"] += n
        else:
            sums[i][metric][0] += n
            sums[i][metric][1] += seconds
    for week, total in zip(weeks, sums):
        week["acknowledged"], week["resolved"] = total["ack"][0], total["res"][0]
        week["mtta_seconds"] = _mean(total["ack"][1], total["ack"][0])
        week["mttr_seconds"] = _mean(total["res"][1], total["res"][0])
    return weeks


def _breakdowns(p):
    session = db.session
    base = _period_filter(p)
    counts = {}
    for _metric, key, _day, n, _seconds in _daily(p["since"], p["until"], ("filed",)):
        counts[key] = counts.get(key, 0) + n
    filed_by_severity = {code: 0 for code in vocab.SEVERITIES}
    systems, facets = {}, {facet: [] for facet in FACETS}
    for key, n in counts.items():
        if not n or key == "":
            continue
        kind, _, value = key.partition(":")
        if kind == "severity":
            filed_by_severity[value] = filed_by_severity.get(value, 0) + n
        elif kind == "system":
            systems[None if value == "none" else int(value)] = n
        elif kind in facets:
            facets[kind].append({"key": value, "count": n, "filter": dict(base, **{kind: value})})
    known = {}
    ids = [i for i in systems if i is not None]
    if ids:
        known = {r.id: r for r in session.execute(
            select(AISystem.id, AISystem.name, AISystem.actor_role).where(AISystem.id.in_(ids))).all()}
    by_system, by_role = [], {}
    for system_id, n in systems.items():
        found = known.get(system_id)
        role = found.actor_role if found is not None else "none"
        by_role[role] = by_role.get(role, 0) + n
        by_system.append({
            "key": str(system_id) if system_id is not None else "none",
            "name": found.name if found is not None else None, "actor_role": role, "count": n,
            "filter": dict(base, ai_system_id=str(system_id) if system_id is not None else "none"),
        })
    by_system.sort(key=lambda r: (-r["count"], r["name"] or "\uffff"))
    out = {
        "filed_total": counts.get("", 0),
        "filed_filter": base,
        "filed_by_severity": filed_by_severity,
        "by_ai_system": by_system,
        "by_actor_role": [{"key": role, "count": n, "filter": dict(base, actor_role=role)}
                          for role, n in sorted(by_role.items(), key=lambda kv: (-kv[1], kv[0]))],
    }
    for facet in FACETS:
        out[f"by_{facet}"] = sorted(facets[facet], key=lambda r: (-r["count"], r["key"]))
    return out


def _compliance(p, zone, now):
    """Response targets (state_target deadlines) due in the period: met on time, met late, overdue.

    Met on time / met late / unmet come from the daily rollup (metric ``tgt``, by due day in the
    org's zone). Every target unmet on a day before today is overdue; only those due today (org
    zone) are counted live, on ``ix_deadline_dash_unmet`` (org_id, met_at, kind, due_at): at most
    one day of targets, whatever the history's size.
    """
    today = now.astimezone(zone).date()
    counts = dict.fromkeys(COMPLIANCE_KEYS, 0)
    for _metric, key, day, n, _seconds in _daily(p["since"], p["until"], ("tgt",)):
        if key == "unmet":
            if day < today:
                counts["overdue"] += n
        else:
            counts[key] += n
    live_from = max(p["start"], _midnight(today, zone))
    live_until = min(p["end"], now)
    if live_from < live_until:
        counts["overdue"] += db.session.execute(
            select(func.count(Deadline.id))
            .where(Deadline.met_at.is_(None), Deadline.kind == "state_target",
                   Deadline.due_at >= live_from, Deadline.due_at < live_until)
        ).scalar_one()
    decided = sum(counts.values())
    due = {"target_due_since": _iso(p["start"]), "target_due_until": _iso(p["end"])}
    return {
        **counts, "total": decided,
        "percent_on_time": None if not decided else round(100.0 * counts["met_on_time"] / decided, 1),
        "filters": {k: dict(due, target=k) for k in COMPLIANCE_KEYS},
    }


def _ministry_requests():
    where = MinistryRequest.status == "open"
    count = db.session.execute(select(func.count(MinistryRequest.id)).where(where)).scalar_one()
    rows = db.session.execute(
        select(MinistryRequest.id, MinistryRequest.ministry, MinistryRequest.kind, MinistryRequest.reference,
               MinistryRequest.received_at, MinistryRequest.due_at)
        .where(where).order_by(MinistryRequest.id.desc()).limit(LIST_LIMIT)
    ).all()
    return {"count": count, "items": [{
        "id": r.id, "ministry": r.ministry, "kind": r.kind, "reference": r.reference,
        "received_at": _iso(r.received_at), "due_at": _iso(r.due_at),
    } for r in rows]}
