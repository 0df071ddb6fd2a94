"""The rules file and organisations' own rules: validation naming file, path and problem;
internal targets that apply only to their organisation; the admin page; countdowns on pages."""
import re
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from app import create_app
from app.errors import Forbidden, ValidationFailed
from app.extensions import db
from app.incidents import deadlines
from app.incidents import service as incidents
from app.incidents.models import Deadline
from app.incidents.rules_schema import RulesFileError, load_rules_file, parse_rules
from app.tenancy import scoped
from config import TestConfig

UTC = timezone.utc


def _document():
    return yaml.safe_load(deadlines.RULES_FILE.read_text(encoding="utf-8"))


def _problems(document):
    with pytest.raises(RulesFileError) as caught:
        parse_rules(yaml.safe_dump(document, allow_unicode=True), file="workflows/rules/broken.yaml")
    return caught.value


def test_the_shipped_rules_file_is_valid():
    rules = load_rules_file(deadlines.RULES_FILE)
    assert [r["id"] for r in rules] == ["appi-preliminary", "appi-final", "eu-ai-act-73", "gdpr-33", "jp-ai-promotion"]
    by_id = {r["id"]: r for r in rules}
    assert by_id["eu-ai-act-73"]["timezone"] == "Europe/Brussels" and by_id["gdpr-33"]["timezone"] == "Europe/Brussels"
    assert by_id["appi-preliminary"]["timezone"] == "Asia/Tokyo"
    for rule in rules:
        assert rule["source"] and rule["label"]["ja"] and rule["description"]["en"]


@pytest.mark.parametrize("mutate, path, words", [
    (lambda d: d["rules"][2]["when"]["all"][1]["any"][1].update(fact="death"), "rules[2].when.all[1].any[1].fact",
     "Unknown fact"),
    (lambda d: d["rules"][0]["period"].update(weeks=1), "rules[0].period.weeks", "Unknown field"),
    (lambda d: d["rules"][3].update(period={"days": 3, "hours": 72}), "rules[3].period", "exactly one"),
    (lambda d: d["rules"][1].update(timezone="Asia/Osaka"), "rules[1].timezone", "Unknown time zone"),
    (lambda d: d["rules"][4].update(id="appi-final"), "rules[4].id", "Duplicate"),
    (lambda d: d["rules"][0].pop("source"), "rules[0].source", "Missing data"),
    (lambda d: d["rules"][4]["when"]["any"][0]["all"][1].update({"in": ["sev9"]}), "rules[4].when.any[0].all[1].in",
     "sev9"),
    (lambda d: d["rules"][0]["when"]["all"][1].update({"is": "yes"}), "rules[0].when.all[1].is", "true or false"),
    (lambda d: d["rules"][2]["overrides"][0].update(period={"days": 0}), "rules[2].overrides[0].period.days", ""),
    (lambda d: d["rules"][0].pop("when"), "rules[0].when", "Missing"),
])
def test_an_invalid_rules_file_names_the_path_and_the_problem(mutate, path, words):
    document = _document()
    mutate(document)
    error = _problems(document)
    paths = [p for p, _ in error.problems]
    assert path in paths, error.problems
    message = dict(error.problems)[path]
    assert words in message
    assert f"workflows/rules/broken.yaml: {path}: " in str(error)


def test_yaml_syntax_errors_name_the_line():
    with pytest.raises(RulesFileError) as caught:
        parse_rules("version: 1\nrules: [\n", file="x.yaml")
    assert "x.yaml: line" in str(caught.value) and "Not valid YAML" in str(caught.value)


def test_the_service_refuses_to_start_with_an_invalid_rules_file(tmp_path):
    document = _document()
    document["rules"][3]["period"] = {"hours": "72"}
    bad = tmp_path / "deadlines.yaml"
    bad.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    config = type("BadRules", (TestConfig,), {"DEADLINE_RULES_FILE": str(bad)})
    with pytest.raises(RulesFileError) as caught:
        create_app(config)
    text = str(caught.value)
    assert str(bad) in text and "rules[3].period.hours" in text and "Not a valid integer" in text


# ---------------------------------------------------------------- organisations' own rules


def _briefing(**over):
    rule = {
        "id": "exec-briefing", "label": {"en": "Executive briefing", "ja": "経営層への説明"},
        "source": "Internal AI governance policy §4", "timezone": "Asia/Tokyo",
        "when": {"fact": "severity", "in": ["sev1", "sev2"]}, "period": {"hours": 12},
    }
    rule.update(over)
    return rule


def _file(actor, aware_at, **facts):
    data = {"title": "Wrong credit decision", "description": "Model drift.", "severity": "sev2",
            "occurred_at": aware_at - timedelta(hours=1), "aware_at": aware_at}
    data.update(facts)
    return incidents.file_incident(actor=actor, data=data)


def _rules_of(incident):
    db.session.expire_all()
    return {d.rule: d for d in db.session.query(Deadline).filter_by(incident_id=incident.id)}


def test_an_internal_rule_applies_only_to_its_organisation(app, factory):
    acme, other = factory.org("acme"), factory.org("other")
    acme_admin, other_lead = factory.user(acme, "admin"), factory.user(other, "lead")
    aware = datetime(2026, 2, 2, 1, 0, tzinfo=UTC)
    with app.app_context():
        with scoped(acme.id):
            row = deadlines.save_org_rule(actor=acme_admin, data=_briefing())
            assert row.definition["kind"] == "internal" and row.active
            mine = _file(acme_admin, aware)
            stored = _rules_of(mine)["exec-briefing"]
            assert stored.kind == "internal" and stored.due_at == aware + timedelta(hours=12)
            assert stored.source == "Internal AI governance policy §4" and stored.period == "12h"
            assert deadlines.label_of(stored) == {"en": "Executive briefing", "ja": "経営層への説明"}
            low = _file(acme_admin, aware, severity="sev4")
            assert "exec-briefing" not in _rules_of(low)
        with scoped(other.id):
            theirs = _file(other_lead, aware)
            assert "exec-briefing" not in _rules_of(theirs)
            assert deadlines.list_org_rules() == []
        db.session.remove()


def test_switching_a_rule_off_removes_its_unmet_deadlines_at_the_next_recompute(app, factory):
    org = factory.org("acme")
    admin = factory.user(org, "admin")
    with app.app_context(), scoped(org.id):
        row = deadlines.save_org_rule(actor=admin, data=_briefing())
        incident = _file(admin, datetime(2026, 2, 2, 1, 0, tzinfo=UTC))
        assert "exec-briefing" in _rules_of(incident)
        deadlines.set_org_rule_active(actor=admin, rule_id=row.id, active=False)
        incident = incidents.update_incident(actor=admin, incident_id=incident.id, version=1,
                                             data={"severity": "sev1"})
        assert "exec-briefing" not in _rules_of(incident)
        db.session.remove()


def test_an_organisation_may_set_its_own_jp_ai_promotion_target(app, factory):
    org = factory.org("acme")
    admin = factory.user(org, "admin")
    aware = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
    with app.app_context(), scoped(org.id):
        deadlines.save_org_rule(actor=admin, data=_briefing(id="jp-ai-promotion", period={"hours": 4}))
        incident = _file(admin, aware, severity="sev1", jurisdictions=["JP"])
        stored = _rules_of(incident)["jp-ai-promotion"]
        assert stored.kind == "regulatory" and stored.due_at == aware + timedelta(hours=4)
        assert stored.source == "AI Promotion Act Arts. 7, 13, 16"
        db.session.remove()


def test_org_rules_are_validated_and_for_admins_only(app, factory):
    org = factory.org("acme")
    admin, lead = factory.user(org, "admin"), factory.user(org, "lead")
    with app.app_context(), scoped(org.id):
        with pytest.raises(Forbidden):
            deadlines.save_org_rule(actor=lead, data=_briefing())
        with pytest.raises(ValidationFailed) as caught:
            deadlines.save_org_rule(actor=admin, data=_briefing(period={"weeks": 1}, timezone="Mars/Base"))
        assert set(caught.value.fields) == {"period.weeks", "timezone"}
        with pytest.raises(ValidationFailed) as caught:
            deadlines.save_org_rule(actor=admin, data=_briefing(id="gdpr-33"))
        assert "id" in caught.value.fields
        with pytest.raises(ValidationFailed) as caught:
            deadlines.save_org_rule(actor=admin, data=_briefing(when={"fact": "severity", "in": ["sev7"]}))
        assert "when.in" in caught.value.fields
        # Saving the same id replaces the rule.
        first = deadlines.save_org_rule(actor=admin, data=_briefing())
        second = deadlines.save_org_rule(actor=admin, data=_briefing(period={"days": 2}))
        assert first.id == second.id and second.definition["period"] == {"days": 2}
        db.session.remove()


# ---------------------------------------------------------------- pages


def test_admin_rules_page_lists_shipped_rules_and_adds_a_target(app, client, factory, auth):
    org = factory.org("acme")
    admin = factory.user(org, "admin", locale="en")
    auth.login(admin.email)
    html = client.get("/admin/rules").get_data(as_text=True)
    for rule_id in ("appi-preliminary", "appi-final", "eu-ai-act-73", "gdpr-33", "jp-ai-promotion"):
        assert rule_id in html
    assert "GDPR Art. 33(1)" in html and "EU AI Act Art. 73(2)-(4)" in html
    token = auth.csrf_token("/admin/rules")
    resp = client.post("/admin/rules", data={
        "csrf_token": token, "rule_id": "exec-briefing", "label_en": "Executive briefing", "label_ja": "経営層への説明",
        "source": "", "severities": ["sev1"], "jurisdictions": ["JP"], "personal_data": "",
        "amount": "6", "unit": "hours", "timezone": "Asia/Tokyo",
    })
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with app.app_context(), scoped(org.id):
        (row,) = deadlines.list_org_rules()
        assert row.definition["when"] == {"all": [{"fact": "severity", "in": ["sev1"]},
                                                  {"fact": "jurisdictions", "any_of": ["JP"]}]}
        assert row.definition["period"] == {"hours": 6}
        row_id = row.id
        db.session.remove()
    html = client.get("/admin/rules").get_data(as_text=True)
    assert "Executive briefing" in html and "exec-briefing" in html
    bad = client.post("/admin/rules", data={
        "csrf_token": token, "rule_id": "Bad Id", "label_en": "x", "label_ja": "x", "amount": "1", "unit": "days",
        "timezone": "Nowhere/City"})
    assert bad.status_code == 422
    off = client.post(f"/admin/rules/{row_id}/active", data={"csrf_token": token, "active": "0"})
    assert off.status_code == 302
    with app.app_context(), scoped(org.id):
        assert deadlines.list_org_rules()[0].active is False
        db.session.remove()


def test_admin_rules_page_is_for_admins(client, factory, auth):
    org = factory.org("acme")
    lead = factory.user(org, "lead")
    auth.login(lead.email)
    assert client.get("/admin/rules").status_code == 403


def test_detail_page_shows_countdowns_and_the_list_shows_the_next_deadline(app, client, factory, auth, monkeypatch):
    monkeypatch.setattr(deadlines, "_definition", lambda incident: None)  # regulatory deadlines only
    org = factory.org("acme")
    lead = factory.user(org, "lead", locale="en")
    now = datetime.now(UTC).replace(microsecond=0)
    with app.app_context(), scoped(org.id):
        overdue = _file(lead, now - timedelta(days=5), jurisdictions=["EU"], personal_data=True)  # gdpr-33 overdue
        fresh = _file(lead, now - timedelta(hours=1), jurisdictions=["EU"], personal_data=True)
        quiet = _file(lead, now - timedelta(hours=1), jurisdictions=["US"])
        ids = overdue.id, fresh.id, quiet.id
        db.session.remove()
    auth.login(lead.email)
    html = client.get(f"/incidents/{ids[0]}").get_data(as_text=True)
    assert "GDPR personal data breach notification" in html and "gdpr-33" in html and "GDPR Art. 33(1)" in html
    assert re.search(r'<time class="countdown overdue"[^>]*data-due="[^"]+"', html)
    assert "overdue" in html and "72 hours" in html
    assert '<script src="/static/countdown.js" defer></script>' in html
    html = client.get(f"/incidents/{ids[1]}").get_data(as_text=True)
    assert re.search(r">2 d 23 h left<|>2 d 22 h left<", html), "countdown text computed on the server"
    listing = client.get("/incidents").get_data(as_text=True)
    assert "Next deadline" in listing and listing.count('class="countdown') == 2  # the quiet one shows none
    with client.get("/static/countdown.js") as script:
        assert script.status_code == 200 and b"data" in script.data
