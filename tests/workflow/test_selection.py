"""Selection: deterministic, explained, and an organisation's copy replaces the shipped one for it only."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from app.extensions import db
from app.incidents import service as incidents
from app.tenancy import scoped
from app.workflow import loader
from app.workflow import service as workflows


def _facts(**kw):
    base = dict(org_id=None, kind="incident", severity="sev3", jurisdictions=["JP"], personal_data=False,
                deaths=0, serious_incident=False, widespread_infringement=False, critical_infrastructure=False)
    base.update(kw)
    return SimpleNamespace(**base)


@pytest.mark.parametrize("facts, expected", [
    (dict(kind="near_miss"), "near-miss"),
    (dict(jurisdictions=["EU"], serious_incident=True), "eu-ai-act-serious-incident"),
    (dict(jurisdictions=["JP", "EU"], deaths=1), "eu-ai-act-serious-incident"),
    (dict(jurisdictions=["EU"], critical_infrastructure=True, personal_data=True), "eu-ai-act-serious-incident"),
    (dict(jurisdictions=["JP"], personal_data=True), "appi-personal-data"),
    (dict(jurisdictions=["JP", "EU"], personal_data=True), "appi-personal-data"),  # EU but not serious
    (dict(kind="near_miss", personal_data=True), "appi-personal-data"),  # the PPC report still applies
    (dict(), "jp-ai-incident"),
    (dict(jurisdictions=["EU"]), "jp-ai-incident"),
    (dict(jurisdictions=["US"], personal_data=True), "jp-ai-incident"),
    (dict(severity="sev1", jurisdictions=[]), "jp-ai-incident"),
])
def test_selection(ctx, facts, expected):
    definition, reason = loader.select_for(_facts(**facts))
    assert definition.id == expected
    assert reason["en"].startswith(expected) and reason["ja"].startswith(expected)


def test_the_reason_names_the_facts(ctx):
    _d, reason = loader.select_for(_facts(jurisdictions=["JP", "EU"], serious_incident=True))
    assert reason["en"] == ("eu-ai-act-serious-incident because the incident is in the EU and is a serious incident "
                            "(priority 30)")
    assert "EUに関係する" in reason["ja"] and "重大インシデント" in reason["ja"] and "優先度30" in reason["ja"]
    _d, reason = loader.select_for(_facts(kind="near_miss"))
    assert reason["en"] == "near-miss because the incident is a near miss (priority 10)"
    _d, reason = loader.select_for(_facts(jurisdictions=["JP"], personal_data=True))
    assert "is in JP and involves personal data (priority 20)" in reason["en"]
    _d, reason = loader.select_for(_facts())
    assert reason["en"] == ("jp-ai-incident: the default workflow, because no other workflow applies to this incident")
    assert "既定のワークフロー" in reason["ja"]


def test_selection_is_deterministic_ties_broken_by_id(ctx):
    first = loader.select_for(_facts(kind="near_miss"))
    assert all(loader.select_for(_facts(kind="near_miss")) == first for _ in range(5))


def _file(admin, **overrides):
    now = datetime.now(timezone.utc)
    data = {"title": "Scoring model rejected every applicant", "description": "A threshold was misconfigured.",
            "severity": "sev2", "occurred_at": now - timedelta(hours=3), "aware_at": now - timedelta(hours=1),
            "jurisdictions": ["JP"], "personal_data": False}
    data.update(overrides)
    return incidents.file_incident(actor=admin, data=data)


def test_filing_stores_the_workflow_its_version_and_the_reason(app, factory):
    org = factory.org("acme")
    admin = factory.user(org, "admin")
    with app.app_context(), scoped(org.id):
        incident = _file(admin, jurisdictions=["EU"], serious_incident=True)
        assert (incident.workflow, incident.workflow_version, incident.state) == (
            "eu-ai-act-serious-incident", 1, "reported")
        reason = workflows.selection_reason(incident=incident)
        assert "serious incident" in reason["en"]
        near = _file(admin, kind="near_miss")
        assert (near.workflow, near.state) == ("near-miss", "reported")
        db.session.remove()


def test_an_org_copy_replaces_the_shipped_one_for_that_org_only(app, factory):
    org_a, org_b = factory.org("alpha"), factory.org("beta")
    admin_a, admin_b = factory.user(org_a, "admin"), factory.user(org_b, "admin")
    with app.app_context(), scoped(org_a.id):
        copy = workflows.copy_workflow(actor=admin_a, workflow_id="near-miss")
        text = copy.yaml_text.replace("kinds: [near_miss]", "kinds: [near_miss, hazard]")
        workflows.save_workflow(actor=admin_a, workflow_id=copy.id, yaml_text=text)
        hazard = _file(admin_a, kind="hazard")
        assert (hazard.workflow, hazard.workflow_version) == ("near-miss", 2)
        reason = workflows.selection_reason(incident=hazard)
        assert "your organisation's copy, version 2" in reason["en"] and "is an AI hazard" in reason["en"]
        db.session.remove()
    with app.app_context(), scoped(org_b.id):
        hazard = _file(admin_b, kind="hazard")
        assert (hazard.workflow, hazard.workflow_version) == ("jp-ai-incident", 1)
        db.session.remove()


def test_an_inactive_copy_is_not_selected(app, factory):
    org = factory.org("acme")
    admin = factory.user(org, "admin")
    with app.app_context(), scoped(org.id):
        copy = workflows.copy_workflow(actor=admin, workflow_id="near-miss")
        text = copy.yaml_text.replace("kinds: [near_miss]", "kinds: [hazard]")
        workflows.save_workflow(actor=admin, workflow_id=copy.id, yaml_text=text)
        assert _file(admin, kind="hazard").workflow == "near-miss"
        workflows.set_active(actor=admin, workflow_id=copy.id, active=False)
        assert _file(admin, kind="hazard").workflow == "jp-ai-incident"
        assert _file(admin, kind="near_miss").workflow_version == 1  # the shipped one again
        db.session.remove()
