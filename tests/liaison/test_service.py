"""Ministry requests: record, validate, edit, link to incidents (deadlines, timeline), roles."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.db import utcnow
from app.errors import Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.incidents.models import Deadline, TimelineEvent
from app.liaison import service as liaison


def received(**kw):
    data = {"ministry": "meti", "kind": "request", "reference": "20260401商情第1号",
            "received_at": utcnow() - timedelta(hours=1), "requested_actions": "Report the cause by Friday.",
            "due_at": utcnow() + timedelta(days=3)}
    data.update(kw)
    return data


def test_record_read_and_list(team, in_org):
    item = liaison.create_request(actor=team.lead, data=received())
    assert item.id and item.status == "open" and item.ministry == "meti" and item.created_by_id == team.lead.id
    other = liaison.create_request(actor=team.admin, data=received(ministry="other", ministry_other="消費者庁",
                                                                   kind="corrective_notice", due_at=None))
    assert other.ministry == "消費者庁"
    assert liaison.get_request(actor=team.executive, request_id=item.id).id == item.id
    assert [r.id for r, links in liaison.list_requests(actor=team.executive)] == [other.id, item.id]
    assert liaison.list_requests(actor=team.lead, status="closed") == []


def test_validation(team, in_org):
    with pytest.raises(ValidationFailed) as err:
        liaison.create_request(actor=team.lead, data={"ministry": "", "kind": "order", "received_at": None})
    assert {"ministry", "kind", "received_at"} <= set(err.value.fields)
    with pytest.raises(ValidationFailed) as err:
        liaison.create_request(actor=team.lead, data=received(ministry="other"))
    assert "ministry_other" in err.value.fields
    with pytest.raises(ValidationFailed) as err:
        liaison.create_request(actor=team.lead, data=received(due_at=utcnow() - timedelta(days=2)))
    assert "due_at" in err.value.fields
    with pytest.raises(ValidationFailed) as err:
        liaison.create_request(actor=team.lead, data=received(received_at=datetime(2026, 1, 1)))
    assert "received_at" in err.value.fields
    with pytest.raises(ValidationFailed):
        liaison.create_request(actor=team.lead, data=received(status="lost"))


def test_roles(team, in_org):
    item = liaison.create_request(actor=team.lead, data=received())
    for role in ("reporter", "responder", "executive"):
        with pytest.raises(Forbidden):
            liaison.create_request(actor=team.users[role], data=received())
        with pytest.raises(Forbidden):
            liaison.update_request(actor=team.users[role], request_id=item.id, data={"status": "closed"})
    for role in ("reporter", "responder"):
        with pytest.raises(Forbidden):
            liaison.get_request(actor=team.users[role], request_id=item.id)
        with pytest.raises(Forbidden):
            liaison.list_requests(actor=team.users[role])
    with pytest.raises(NotFound):
        liaison.get_request(actor=team.lead, request_id=item.id + 100)


def test_edit_status(team, in_org):
    item = liaison.create_request(actor=team.lead, data=received())
    liaison.update_request(actor=team.admin, request_id=item.id, data={"status": "answered"})
    db.session.expire_all()
    assert liaison.get_request(actor=team.lead, request_id=item.id).status == "answered"


def _events(incident_id, action):
    stmt = select(TimelineEvent).where(TimelineEvent.incident_id == incident_id, TimelineEvent.action == action)
    return list(db.session.execute(stmt).scalars())


def _rules(incident_id):
    stmt = select(Deadline.rule).where(Deadline.incident_id == incident_id)
    return set(db.session.execute(stmt).scalars())


def test_link_adds_jp_ai_promotion_deadline_and_timeline_event(team, in_org):
    incident_id = team.file(severity="sev3", jurisdictions=["JP"], personal_data=False)
    assert "jp-ai-promotion" not in _rules(incident_id)
    assert liaison.has_linked_request(incident_id) is False
    item = liaison.create_request(actor=team.lead, data=received())
    liaison.link(actor=team.lead, request_id=item.id, incident_id=incident_id)
    liaison.link(actor=team.lead, request_id=item.id, incident_id=incident_id)  # twice: harmless
    db.session.expire_all()
    assert liaison.has_linked_request(incident_id) is True
    assert [r.id for r in liaison.linked_requests(incident_id)] == [item.id]
    assert [i.id for i in liaison.linked_incidents(actor=team.executive, request_id=item.id)] == [incident_id]
    events = _events(incident_id, "ministry_request_linked")
    assert len(events) == 1 and events[0].data["request_id"] == item.id and events[0].actor_id == team.lead.id
    assert "jp-ai-promotion" in _rules(incident_id)

    liaison.unlink(actor=team.lead, request_id=item.id, incident_id=incident_id)
    db.session.expire_all()
    assert liaison.has_linked_request(incident_id) is False
    assert len(_events(incident_id, "ministry_request_unlinked")) == 1
    assert "jp-ai-promotion" not in _rules(incident_id)


def test_link_rules(team, in_org, factory, app):
    from app.incidents import service as incidents
    from app.tenancy import scoped
    from tests.conftest import incident_payload
    from tests.queues.conftest import parsed

    incident_id = team.file()
    item = liaison.create_request(actor=team.lead, data=received())
    for role in ("responder", "executive", "reporter"):
        with pytest.raises(Forbidden):
            liaison.link(actor=team.users[role], request_id=item.id, incident_id=incident_id)
    with pytest.raises(ValidationFailed):
        liaison.link(actor=team.lead, request_id=item.id, incident_id=987654)
    other = factory.org("ministryless")
    their_lead = factory.user(other, "lead")
    with scoped(other.id):
        theirs = incidents.file_incident(actor=their_lead, data=parsed(incident_payload())).id
        their_request = liaison.create_request(actor=their_lead, data=received()).id
    with pytest.raises(ValidationFailed):
        liaison.link(actor=team.lead, request_id=item.id, incident_id=theirs)
    with pytest.raises(NotFound):
        liaison.link(actor=team.lead, request_id=their_request, incident_id=incident_id)
    assert liaison.has_linked_request(incident_id) is False
