"""Organisation copies: admin only, validated like the shipped files, versioned."""
from datetime import datetime, timedelta, timezone

import pytest

from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.incidents import service as incidents
from app.tenancy import scoped
from app.workflow import loader
from app.workflow import service as workflows
from app.workflow.models import OrgWorkflow


@pytest.fixture
def acme(app, factory):
    """An organisation with an admin and a lead, the scope set for the test."""
    org = factory.org("acme")
    admin, lead = factory.user(org, "admin"), factory.user(org, "lead")
    with app.app_context(), scoped(org.id):
        yield org, admin, lead
        db.session.remove()


def _file(actor):
    now = datetime.now(timezone.utc)
    return incidents.file_incident(actor=actor, data={
        "title": "Chatbot gave wrong dosage advice", "description": "A hallucinated dosage.", "severity": "sev2",
        "occurred_at": now - timedelta(hours=2), "aware_at": now - timedelta(hours=1), "jurisdictions": ["JP"]})


def test_copy_stores_version_1_of_the_shipped_text(acme):
    org, admin, _lead = acme
    row = workflows.copy_workflow(actor=admin, workflow_id="jp-ai-incident")
    assert (row.name, row.version, row.based_on, row.active, row.created_by_id) == (
        "jp-ai-incident", 1, "jp-ai-incident", True, admin.id)
    assert row.yaml_text == loader.shipped()["jp-ai-incident"].yaml_text
    with pytest.raises(Conflict):
        workflows.copy_workflow(actor=admin, workflow_id="jp-ai-incident")
    with pytest.raises(NotFound):
        workflows.copy_workflow(actor=admin, workflow_id="no-such-workflow")


def test_copy_under_a_new_name_is_not_a_second_default(acme):
    _org, admin, _lead = acme
    row = workflows.copy_workflow(actor=admin, workflow_id="jp-ai-incident", name="acme-incident")
    definition = workflows.definition_of(row)
    assert definition.id == "acme-incident" and definition.applies_to.default is False
    assert row.active is False  # copying never changes what new incidents get
    assert loader.select_for(_file(admin))[0].id == "jp-ai-incident"
    workflows.set_active(actor=admin, workflow_id=row.id, active=True)
    assert loader.select_for(_file(admin))[0].id == "acme-incident"  # no conditions: every incident


def test_only_admins_manage_workflows(acme):
    _org, admin, lead = acme
    with pytest.raises(Forbidden):
        workflows.copy_workflow(actor=lead, workflow_id="near-miss")
    row = workflows.copy_workflow(actor=admin, workflow_id="near-miss")
    with pytest.raises(Forbidden):
        workflows.save_workflow(actor=lead, workflow_id=row.id, yaml_text=row.yaml_text)


def test_an_invalid_save_names_each_problem_and_stores_nothing(acme):
    _org, admin, _lead = acme
    row = workflows.copy_workflow(actor=admin, workflow_id="near-miss")
    text = row.yaml_text.replace("    to: review\n", "    to: reviw\n", 1).replace("targets: {sev1: 4h,", "targets: {sev1: 4x,")
    with pytest.raises(ValidationFailed) as info:
        workflows.save_workflow(actor=admin, workflow_id=row.id, yaml_text=text)
    problems = info.value.fields["yaml_text"]
    assert any(p.startswith("transitions[0].to: unknown state 'reviw' (line ") for p in problems)
    assert any(p.startswith("states.reported.targets.sev1: '4x' is not a duration") for p in problems)
    with pytest.raises(ValidationFailed) as info:
        workflows.save_workflow(actor=admin, workflow_id=row.id, yaml_text="id: [broken\n")
    assert info.value.fields["yaml_text"][0].startswith("(yaml): YAML syntax error")
    with pytest.raises(ValidationFailed) as info:
        workflows.save_workflow(actor=admin, workflow_id=row.id, yaml_text=row.yaml_text.replace(
            "id: near-miss", "id: other-name"))
    assert "must stay 'near-miss'" in info.value.fields["yaml_text"][0]
    assert [r.version for r in workflows.history(row.id)] == [1]


def test_versions_incidents_keep_the_version_they_started_on(acme):
    org, admin, _lead = acme
    row = workflows.copy_workflow(actor=admin, workflow_id="jp-ai-incident")
    before = _file(admin)
    assert (before.workflow, before.workflow_version) == ("jp-ai-incident", 1)
    text = row.yaml_text.replace("label: {en: Triage, ja: トリアージ}", "label: {en: Assessment, ja: 評価}", 1)
    v2 = workflows.save_workflow(actor=admin, workflow_id=row.id, yaml_text=text)
    assert v2.version == 2 and v2.id != row.id and v2.based_on == "jp-ai-incident"
    assert [r.version for r in workflows.history(row.id)] == [2, 1]
    after = _file(admin)
    assert after.workflow_version == 2
    old = loader.get_definition(org_id=org.id, workflow_id=before.workflow, version=before.workflow_version)
    new = loader.get_definition(org_id=org.id, workflow_id=after.workflow, version=after.workflow_version)
    assert old.state("triage").label.en == "Triage" and new.state("triage").label.en == "Assessment"
    assert (old.version, new.version) == (1, 2)
    # Cached, and the cache keyed by organisation: another organisation gets the shipped one.
    assert loader.get_definition(org_id=org.id, workflow_id="jp-ai-incident", version=2) is new
    assert loader.get_definition(org_id=org.id + 999, workflow_id="jp-ai-incident", version=2) is \
        loader.shipped()["jp-ai-incident"]


def test_get_definition_falls_back_to_shipped(acme):
    org, _admin, _lead = acme
    assert loader.get_definition(org_id=org.id, workflow_id="near-miss", version=1) is loader.shipped()["near-miss"]
    assert loader.get_definition(org_id=org.id, workflow_id="gone", version=3) is loader.shipped()["jp-ai-incident"]


def test_list_workflows_shows_shipped_and_copies(acme):
    _org, admin, _lead = acme
    row = workflows.copy_workflow(actor=admin, workflow_id="appi-personal-data")
    workflows.save_workflow(actor=admin, workflow_id=row.id, yaml_text=row.yaml_text)
    items = {(i["name"], i["shipped"]): i for i in workflows.list_workflows()}
    assert len(items) == 5
    assert items[("appi-personal-data", True)]["replaced_by_copy"] is True
    copy = items[("appi-personal-data", False)]
    assert copy["row"].version == 2 and copy["priority"] == 20 and copy["active"]
    assert ("is in JP", "日本に関係する") in copy["applies"]
    assert items[("jp-ai-incident", True)]["default"] is True


def test_another_orgs_copy_is_not_found(app, factory, acme):
    _org, admin, _lead = acme
    row = workflows.copy_workflow(actor=admin, workflow_id="near-miss")
    other = factory.org("other")
    with scoped(other.id):
        with pytest.raises(NotFound):
            workflows.get_org_workflow(row.id)
    assert db.session.get(OrgWorkflow, row.id) is not None
