"""Every figure of dashboard.metrics() on the planned data set (tests/dashboard/conftest.py)."""
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.dashboard import service as dashboard
from app.errors import Forbidden, ValidationFailed
from app.extensions import db
from app.incidents import service as incidents
from app.incidents.models import Deadline, Incident
from app.orgs import service as orgs
from app.tenancy import scoped

H = 3600
TOKYO = ZoneInfo("Asia/Tokyo")


def _metrics(app, user, **kw):
    with app.app_context(), scoped(user.org_id):
        value = dashboard.metrics(actor=orgs.get_user(user.id), **kw)
        db.session.remove()
        return value


def _rows(app, org_id, stmt):
    with app.app_context(), scoped(org_id):
        rows = db.session.execute(stmt).all()
        db.session.remove()
        return rows


def test_open_figures(app, plan):
    m = _metrics(app, plan.executive)
    assert m["open_by_severity"] == {"sev1": 1, "sev2": 1, "sev3": 1, "sev4": 1}
    assert m["open_total"] == 4
    assert m["open_by_state"] == {"containment": 2, "reported": 2}
    assert m["open_by_state_labels"]["containment"] == {"en": "Containment", "ja": "封じ込め"}
    assert m["open_by_severity_filters"]["sev1"] == {"severity": "sev1", "open": "1"}
    assert m["open_by_state_filters"]["reported"] == {"state": "reported", "open": "1"}


def test_period_breakdowns(app, plan):
    m = _metrics(app, plan.executive)
    assert m["period"]["days"] == 90 and m["period"]["timezone"] == "Asia/Tokyo"
    assert m["filed_total"] == 6  # D (200 days ago) is outside the period
    assert m["filed_by_severity"] == {"sev1": 1, "sev2": 2, "sev3": 2, "sev4": 1}
    systems = {r["key"]: (r["name"], r["actor_role"], r["count"]) for r in m["by_ai_system"]}
    assert systems == {str(plan.s1): ("サポートチャットボット", "provider", 3),
                       str(plan.s2): ("Credit scoring", "developer", 2), "none": (None, "none", 1)}
    assert [r["key"] for r in m["by_ai_system"]] == [str(plan.s1), str(plan.s2), "none"]
    assert {r["key"]: r["count"] for r in m["by_actor_role"]} == {"provider": 3, "developer": 2, "none": 1}
    assert {r["key"]: r["count"] for r in m["by_harm_type"]} == {"privacy": 2, "discrimination": 1, "economic": 2}
    assert {r["key"]: r["count"] for r in m["by_principle"]} == {"privacy": 2, "fairness": 1, "transparency": 1}
    assert {r["key"]: r["count"] for r in m["by_jurisdiction"]} == {"JP": 5, "EU": 1}


def test_mtta_mttr(app, plan):
    m = _metrics(app, plan.executive)
    # Acknowledged in the period: A +3 h, B +5 d (dismissed from triage), E +1 d, G +12 h (dismissed).
    assert m["acknowledged_count"] == 4
    assert m["mtta_seconds"] == pytest.approx((3 + 120 + 24 + 12) * H / 4, abs=0.01)
    # Resolved in the period: B +5 d, G +12 h. D was resolved 199 days ago.
    assert m["resolved_count"] == 2
    assert m["mttr_seconds"] == pytest.approx((120 + 12) * H / 2, abs=0.01)


def test_trends(app, plan):
    m = _metrics(app, plan.executive)
    weeks = m["trends"]
    assert len(weeks) == 12
    today = plan.now.astimezone(TOKYO).date()
    assert weeks[-1]["week_start"] == (today - timedelta(days=today.weekday())).isoformat()
    for a, b in zip(weeks, weeks[1:]):
        assert (b["week_start"] > a["week_start"])

    def week_of(instant):
        day = instant.astimezone(TOKYO).date()
        return (day - timedelta(days=day.weekday())).isoformat()

    hours = timedelta(hours=1)
    acks = {"A": 3 * hours, "B": 120 * hours, "E": 24 * hours, "G": 12 * hours}
    resolves = {"B": 120 * hours, "G": 12 * hours}
    expected = {w["week_start"]: {"count": 0, "ack": [], "res": []} for w in weeks}
    for key in ("A", "B", "C", "E", "F", "G", "D"):
        wk = week_of(plan.filed[key])
        if wk in expected:
            expected[wk]["count"] += 1
    for key, delay in acks.items():
        wk = week_of(plan.filed[key] + delay)
        if wk in expected:
            expected[wk]["ack"].append(delay.total_seconds())
    for key, delay in resolves.items():
        wk = week_of(plan.filed[key] + delay)
        if wk in expected:
            expected[wk]["res"].append(delay.total_seconds())
    for w in weeks:
        e = expected[w["week_start"]]
        assert w["count"] == e["count"], w
        assert w["acknowledged"] == len(e["ack"]) and w["resolved"] == len(e["res"]), w
        mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
        assert w["mtta_seconds"] == (pytest.approx(mean(e["ack"]), abs=0.01) if e["ack"] else None)
        assert w["mttr_seconds"] == (pytest.approx(mean(e["res"]), abs=0.01) if e["res"] else None)
    assert sum(w["count"] for w in weeks) == 6  # C (40 d) ... G (30 d): all inside 12 weeks; D is not


def test_deadlines(app, plan):
    m = _metrics(app, plan.executive)
    now = m["generated_at"]
    rows = _rows(app, plan.org.id, select(Deadline.incident_id, Deadline.rule, Deadline.kind, Deadline.due_at,
                                          Deadline.met_at, Incident.is_open).join(Incident))
    from datetime import datetime
    now = datetime.fromisoformat(now)
    live = [r for r in rows if r.met_at is None and r.kind in ("regulatory", "internal") and r.is_open]
    overdue = sorted((r for r in live if r.due_at < now), key=lambda r: r.due_at)
    soon = sorted((r for r in live if now <= r.due_at < now + timedelta(days=7)), key=lambda r: r.due_at)
    assert m["overdue_deadlines"]["count"] == len(overdue) >= 3  # APPI preliminary of A, C, E at least
    assert [(i["incident_id"], i["rule"]) for i in m["overdue_deadlines"]["items"]] == [
        (r.incident_id, r.rule) for r in overdue][:10]
    assert {(r.incident_id, r.rule) for r in overdue} >= {(plan.ids[k], "appi-preliminary") for k in "ACE"}
    assert m["due_next_7_days"]["count"] == len(soon)
    assert (plan.ids["F"], "appi-final") in {(i["incident_id"], i["rule"]) for i in m["due_next_7_days"]["items"]}
    item = m["overdue_deadlines"]["items"][0]
    assert item["ref"].startswith("AI-") and item["due_at"].endswith("+00:00")
    assert m["overdue_deadlines"]["filter"] == {"overdue": "1"}
    assert m["due_next_7_days"]["filter"] == {"due_within_days": "7"}
    # No incident of the other organisation is listed.
    others = {plan.ids[f"X{n}"] for n in range(4)}
    assert not others & {i["incident_id"] for i in m["overdue_deadlines"]["items"] + m["due_next_7_days"]["items"]}


def test_response_target_compliance(app, plan):
    m = _metrics(app, plan.executive)
    rt = m["response_targets"]
    from datetime import datetime
    now = datetime.fromisoformat(m["generated_at"])
    start, end = (datetime.fromisoformat(m["period"][k]) for k in ("start", "end"))
    rows = _rows(app, plan.org.id, select(Deadline.due_at, Deadline.met_at).where(Deadline.kind == "state_target"))
    rows = [r for r in rows if start <= r.due_at < end]
    on_time = sum(1 for r in rows if r.met_at is not None and r.met_at <= r.due_at)
    late = sum(1 for r in rows if r.met_at is not None and r.met_at > r.due_at)
    overdue = sum(1 for r in rows if r.met_at is None and r.due_at < now)
    assert (rt["met_on_time"], rt["met_late"], rt["overdue"]) == (on_time, late, overdue)
    assert rt["total"] == on_time + late + overdue
    # Planned: A's triage target (SEV1: 1 h in reported) met at +1 h: on time; B left triage (SEV2: 4 h) at
    # +5 d: late; C (SEV3, reported 1 d) never left reported: overdue.
    assert on_time >= 1 and late >= 1 and overdue >= 1
    assert rt["percent_on_time"] == round(100.0 * on_time / rt["total"], 1)
    assert rt["filters"]["met_late"]["target"] == "met_late"


def test_other_figures(app, plan):
    m = _metrics(app, plan.executive)
    # Filing escalates at once (default policy): SEV1 -> levels 1 and 3, SEV2 -> 1 and 2, SEV3 -> 1.
    # In the period: A (SEV1), B and E (SEV2), C and G (SEV3); D is older; the other org's never counted.
    assert m["escalations_by_level"] == {"1": 5, "2": 2, "3": 1}
    assert m["ministry_requests"]["count"] == 1
    assert [i["reference"] for i in m["ministry_requests"]["items"]] == ["METI-2026-01"]


def test_other_organisation_never_counted(app, plan):
    other = plan.factory.user(plan.other, "executive")
    theirs = _metrics(app, other)
    assert theirs["open_by_severity"] == {"sev1": 4, "sev2": 0, "sev3": 0, "sev4": 0}
    assert theirs["filed_total"] == 4 and theirs["ministry_requests"]["count"] == 1
    assert {r["key"]: r["count"] for r in theirs["by_harm_type"]} == {"physical": 4}
    ours = _metrics(app, plan.executive)
    assert "physical" not in {r["key"] for r in ours["by_harm_type"]}
    assert "safety" not in {r["key"] for r in ours["by_principle"]}


def test_custom_period(app, plan):
    today = plan.now.astimezone(TOKYO).date()
    # The last 15 days: A (10 d) and E (5 d) filed; E acknowledged; A acknowledged at +3 h.
    m = _metrics(app, plan.executive, since=(today - timedelta(days=14)).isoformat(), until=today.isoformat())
    assert m["filed_total"] == 2
    assert m["acknowledged_count"] == 2 and m["mtta_seconds"] == pytest.approx((3 + 24) * H / 2, abs=0.01)
    assert m["resolved_count"] == 0 and m["mttr_seconds"] is None
    m = _metrics(app, plan.executive, days=365)
    assert m["filed_total"] == 7 and m["resolved_count"] == 3
    with pytest.raises(ValidationFailed):
        _metrics(app, plan.executive, since="2026-05-01", until="2026-04-01")
    with pytest.raises(ValidationFailed):
        _metrics(app, plan.executive, since="yesterday")


@pytest.mark.parametrize("role", ["reporter", "responder", "lead"])
def test_page_roles_only(app, plan, role):
    user = plan.factory.user(plan.org, role)
    with pytest.raises(Forbidden):
        _metrics(app, user)


def test_filters_list_the_incidents_behind_the_figures(app, plan):
    m = _metrics(app, plan.executive)
    with app.app_context(), scoped(plan.org.id):
        actor = orgs.get_user(plan.executive.id)

        def count(flt):
            items, _ = incidents.list_incidents(actor=actor, filters=flt, limit=200)
            return len(items)

        for code, n in m["open_by_severity"].items():
            assert count(m["open_by_severity_filters"][code]) == n
        for state, n in m["open_by_state"].items():
            assert count(m["open_by_state_filters"][state]) == n
        for name in ("by_ai_system", "by_actor_role", "by_harm_type", "by_principle", "by_jurisdiction"):
            for row in m[name]:
                assert count(row["filter"]) == row["count"], (name, row)
        assert count(m["filed_filter"]) == m["filed_total"]
        assert count(m["mtta_filter"]) == m["acknowledged_count"]
        assert count(m["mttr_filter"]) == m["resolved_count"]
        overdue_incidents = {i["incident_id"] for i in m["overdue_deadlines"]["items"]}
        assert count(m["overdue_deadlines"]["filter"]) == len(overdue_incidents)
        assert count(m["due_next_7_days"]["filter"]) == len({i["incident_id"] for i in m["due_next_7_days"]["items"]})
        for w in m["trends"]:
            assert count(w["filter"]) == w["count"]
        rt = m["response_targets"]
        for key in dashboard.COMPLIANCE_KEYS:
            assert (count(rt["filters"][key]) > 0) == (rt[key] > 0)
        db.session.remove()


def test_rollups_follow_every_change_and_match_a_rebuild(app, plan):
    """Edits of the facts (severity, system, tags) move the daily rows; a rebuild from the incidents agrees."""
    from app.dashboard import rollup
    from app.dashboard.models import DailyFigure

    with app.app_context(), scoped(plan.org.id):
        admin = orgs.get_user(plan.admin.id)
        incident = incidents.get_incident(actor=admin, incident_id=plan.ids["C"])
        incidents.update_incident(actor=admin, incident_id=incident.id, version=incident.version, data={
            "severity": "sev1", "ai_system_id": plan.s2, "harm_types": ["privacy", "physical"]})
        db.session.remove()
    m = _metrics(app, plan.executive)
    assert m["filed_by_severity"] == {"sev1": 2, "sev2": 2, "sev3": 1, "sev4": 1}
    assert {r["key"]: r["count"] for r in m["by_harm_type"]} == {
        "privacy": 3, "discrimination": 1, "economic": 1, "physical": 1}
    assert {r["key"]: r["count"] for r in m["by_ai_system"]} == {str(plan.s1): 3, str(plan.s2): 3}

    def rows():
        with app.app_context():
            with db.engine.connect() as conn:
                table = DailyFigure.__table__
                found = conn.execute(select(table.c.org_id, table.c.day, table.c.metric, table.c.key, table.c.n,
                                            table.c.seconds).where(table.c.n != 0)).all()
        return {(r.org_id, r.day, r.metric, r.key): (r.n, round(r.seconds, 3)) for r in found}

    kept = rows()
    with app.app_context():
        with db.engine.begin() as conn:
            assert rollup.backfill(conn) == 11
    assert rows() == kept
