"""The queue service: order, filters, keyset pages without OFFSET, counts and assignment rules."""
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from app.db import utcnow
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.incidents import service as incidents
from app.incidents.models import FAR_FUTURE, Incident, TimelineEvent
from app.queues import service as queues
from tests.queues.conftest import hours


def ids(items):
    return [i.id for i in items]


def test_order_nearest_deadline_then_severity_then_id_far_future_last(team, in_org):
    a = team.file(severity="sev3")
    b = team.file(severity="sev1")
    c = team.file(severity="sev2")
    d = team.file(severity="sev1")
    e = team.file(severity="sev4")
    soon, later = hours(5), hours(30)
    team.set(a, queue_due_at=soon)
    team.set(b, queue_due_at=later)
    team.set(c, queue_due_at=soon)
    team.set(d, queue_due_at=FAR_FUTURE)
    team.set(e, queue_due_at=FAR_FUTURE)
    closed = team.file(severity="sev1")
    team.set(closed, queue_due_at=hours(-100), is_open=False)
    items, cursor = queues.queue(actor=team.lead, filters={}, limit=50)
    # c before a: same due time, sev2 < sev3; FAR_FUTURE last (sev1 d before sev4 e); closed never.
    assert ids(items) == [c, a, b, d, e] and cursor is None
    assert items[-1].due_at is None and items[0].due_at is not None


def test_responders_default_to_their_own_queue(team, in_org):
    mine = team.file()
    other = team.file()
    queues.claim(actor=team.responder, incident_id=mine)
    items, _ = queues.queue(actor=team.responder)
    assert ids(items) == [mine]
    items, _ = queues.queue(actor=team.responder, filters={"assignee": "any"})
    assert set(ids(items)) == {mine, other}


def test_every_filter(team, in_org, app):
    from app.systems import service as systems

    system = systems.create_system(actor=team.lead, data={"name": "Scoring model"})
    jp_sev1 = team.file(severity="sev1", jurisdictions=["JP"], ai_system_id=system.id)
    eu_sev2 = team.file(severity="sev2", jurisdictions=["EU"], personal_data=False)
    overdue = team.file(severity="sev3", jurisdictions=["JP"])
    team.set(jp_sev1, queue_due_at=hours(3))
    team.set(eu_sev2, queue_due_at=hours(48))
    team.set(overdue, queue_due_at=hours(-1), state="triage")
    queues.assign(actor=team.lead, incident_id=eu_sev2, assignee_id=team.responder.id)
    queues.assign(actor=team.lead, incident_id=overdue, assignee_id=team.lead.id)

    def q(**filters):
        return set(ids(queues.queue(actor=team.lead, filters=filters)[0]))

    assert q() == {jp_sev1, eu_sev2, overdue}
    assert q(severity="sev1") == {jp_sev1}
    assert q(state="triage") == {overdue}
    assert q(ai_system_id=system.id) == {jp_sev1}
    assert q(jurisdiction="JP") == {jp_sev1, overdue}
    assert q(jurisdiction="EU") == {eu_sev2}
    assert q(assignee="none") == {jp_sev1}
    assert q(assignee="me") == {overdue}
    assert q(assignee=team.responder.id) == {eu_sev2}
    assert q(assignee=str(team.responder.id)) == {eu_sev2}
    assert q(assignee="any") == {jp_sev1, eu_sev2, overdue}
    assert q(overdue=True) == {overdue}
    assert q(due_within_24h=True) == {jp_sev1}
    assert q(jurisdiction="JP", overdue=True, assignee="me") == {overdue}
    with pytest.raises(ValidationFailed):
        q(assignee="someone")


def test_keyset_pages_return_each_item_once_and_never_use_offset(team, in_org):
    made = [team.file(severity=f"sev{1 + n % 4}") for n in range(23)]
    base = utcnow()
    for n, incident_id in enumerate(made):
        # Many ties on the due time, so the severity and id parts of the key matter.
        team.set(incident_id, queue_due_at=FAR_FUTURE if n % 5 == 0 else base + timedelta(hours=n % 3))
    statements = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", remember)
    try:
        seen, cursor, pages = [], None, 0
        while True:
            items, cursor = queues.queue(actor=team.lead, filters={}, limit=5, cursor=cursor)
            seen += items
            pages += 1
            if cursor is None:
                break
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert pages == 5
    assert sorted(ids(seen)) == sorted(made) and len(seen) == len(made)
    keys = [(i.queue_due_at, i.severity, i.id) for i in seen]
    assert keys == sorted(keys)
    queue_selects = [s for s in statements if "FROM incident" in s and "ORDER BY" in s]
    assert queue_selects and not any("OFFSET" in s.upper() for s in statements)


def test_a_malformed_cursor_is_a_422(team, in_org):
    with pytest.raises(ValidationFailed) as err:
        queues.queue(actor=team.lead, cursor="not-a-cursor")
    assert "cursor" in err.value.fields


def test_counts(team, in_org):
    a = team.file(severity="sev1")
    b = team.file(severity="sev2")
    c = team.file(severity="sev2")
    d = team.file(severity="sev4")
    closed = team.file(severity="sev1")
    team.set(a, queue_due_at=hours(-2))
    team.set(b, queue_due_at=hours(10))
    team.set(c, queue_due_at=hours(40))
    team.set(d, queue_due_at=FAR_FUTURE)
    team.set(closed, queue_due_at=hours(-5), is_open=False)
    queues.assign(actor=team.lead, incident_id=b, assignee_id=team.lead.id)
    queues.assign(actor=team.lead, incident_id=c, assignee_id=team.responder.id)
    assert queues.counts(actor=team.lead) == {
        "open": 4, "mine": 1, "unassigned": 2, "overdue": 1, "due_24h": 1,
        "by_severity": {"sev1": 1, "sev2": 2, "sev3": 0, "sev4": 1},
    }
    assert queues.counts(actor=team.responder)["mine"] == 1


@pytest.mark.parametrize("role", ["reporter", "executive"])
def test_reporters_and_executives_may_not_use_the_queue(team, in_org, role):
    incident_id = team.file()
    user = team.users[role]
    for call in (lambda: queues.queue(actor=user), lambda: queues.counts(actor=user),
                 lambda: queues.claim(actor=user, incident_id=incident_id),
                 lambda: queues.bulk_assign(actor=user, incident_ids=[incident_id], assignee_id=None)):
        with pytest.raises(Forbidden):
            call()


def _events(incident_id):
    stmt = select(TimelineEvent).where(TimelineEvent.incident_id == incident_id).order_by(TimelineEvent.id)
    return [(e.action, e.actor_id, e.data) for e in db.session.execute(stmt).scalars() if e.action != "filed"]


def test_assign_claim_unassign_write_timeline_events(team, in_org):
    incident_id = team.file()
    queues.assign(actor=team.lead, incident_id=incident_id, assignee_id=team.responder.id)
    queues.unassign(actor=team.responder, incident_id=incident_id)
    queues.claim(actor=team.responder2, incident_id=incident_id)
    events = _events(incident_id)
    r1 = {"id": team.responder.id, "name": team.responder.name}
    r2 = {"id": team.responder2.id, "name": team.responder2.name}
    assert events == [
        ("assigned", team.lead.id, {"from": None, "to": r1}),
        ("unassigned", team.responder.id, {"from": r1, "to": None}),
        ("claimed", team.responder2.id, {"from": None, "to": r2}),
    ]
    db.session.expire_all()
    assert incidents.get_incident(actor=team.lead, incident_id=incident_id).assignee_id == team.responder2.id


def test_assigning_the_same_person_again_changes_nothing(team, in_org):
    incident_id = team.file()
    first = queues.assign(actor=team.lead, incident_id=incident_id, assignee_id=team.lead.id)
    version = first.version
    again = queues.assign(actor=team.lead, incident_id=incident_id, assignee_id=team.lead.id)
    assert again.version == version and len(_events(incident_id)) == 1


def test_responders_claim_and_let_go_only_for_themselves(team, in_org):
    incident_id = team.file()
    with pytest.raises(Forbidden):
        queues.assign(actor=team.responder, incident_id=incident_id, assignee_id=team.responder2.id)
    queues.claim(actor=team.responder, incident_id=incident_id)
    with pytest.raises(Forbidden):  # taken by someone else
        queues.claim(actor=team.responder2, incident_id=incident_id)
    with pytest.raises(Forbidden):
        queues.unassign(actor=team.responder2, incident_id=incident_id)
    with pytest.raises(Forbidden):
        queues.bulk_assign(actor=team.responder, incident_ids=[incident_id], assignee_id=team.responder.id)
    queues.unassign(actor=team.responder, incident_id=incident_id)
    # A lead may take it from anyone.
    queues.claim(actor=team.responder2, incident_id=incident_id)
    queues.assign(actor=team.lead, incident_id=incident_id, assignee_id=team.responder.id)


def test_the_assignee_must_be_an_active_worker_of_the_org(team, in_org, factory, app):
    incident_id = team.file()
    other_org = factory.org("elsewhere")
    stranger = factory.user(other_org, "responder")
    with pytest.raises(NotFound):
        queues.assign(actor=team.lead, incident_id=incident_id, assignee_id=stranger.id)
    with pytest.raises(NotFound):
        queues.bulk_assign(actor=team.lead, incident_ids=[incident_id], assignee_id=stranger.id)
    for role in ("reporter", "executive"):
        with pytest.raises(ValidationFailed) as err:
            queues.assign(actor=team.lead, incident_id=incident_id, assignee_id=team.users[role].id)
        assert "assignee_id" in err.value.fields
    from app.orgs import service as orgs

    orgs.set_active(actor=team.admin, user_id=team.responder2.id, active=False)
    with pytest.raises(ValidationFailed):
        queues.assign(actor=team.lead, incident_id=incident_id, assignee_id=team.responder2.id)
    assert _events(incident_id) == []


def test_a_stale_version_is_a_conflict(team, in_org):
    incident_id = team.file()
    current = incidents.get_incident(actor=team.lead, incident_id=incident_id).version
    with pytest.raises(Conflict):
        queues.assign(actor=team.lead, incident_id=incident_id, assignee_id=team.lead.id, version=current + 1)
    done = queues.assign(actor=team.lead, incident_id=incident_id, assignee_id=team.lead.id, version=current)
    assert done.version == current + 1
    with pytest.raises(Conflict):  # the version read before the assignment is now stale
        queues.unassign(actor=team.lead, incident_id=incident_id, version=current)


def test_bulk_assign_is_all_or_nothing_and_lists_bad_ids(team, in_org, factory, app):
    a, b, c = team.file(), team.file(), team.file()
    with pytest.raises(ValidationFailed) as err:
        queues.bulk_assign(actor=team.lead, incident_ids=[a, 999_999, b, 999_998], assignee_id=team.responder.id)
    assert "999999" in err.value.fields["incident_ids"][0] and "999998" in err.value.fields["incident_ids"][0]
    assert all(_events(i) == [] for i in (a, b))
    done = queues.bulk_assign(actor=team.lead, incident_ids=[a, b, c, a], assignee_id=team.responder.id)
    assert [i.id for i in done] == [a, b, c]
    db.session.expire_all()
    rows = db.session.execute(select(Incident.assignee_id).where(Incident.id.in_([a, b, c]))).scalars().all()
    assert rows == [team.responder.id] * 3
    assert all(_events(i)[0][0] == "assigned" for i in (a, b, c))
    queues.bulk_assign(actor=team.admin, incident_ids=[a, b], assignee_id=None)
    assert _events(a)[-1][0] == "unassigned"
    with pytest.raises(ValidationFailed):
        queues.bulk_assign(actor=team.lead, incident_ids=[], assignee_id=None)


def test_another_orgs_incident_is_not_found_in_bulk(team, in_org, factory, app):
    from app.tenancy import scoped
    from tests.conftest import incident_payload
    from tests.queues.conftest import parsed

    other = factory.org("other")
    their_lead = factory.user(other, "lead")
    with scoped(other.id):
        theirs = incidents.file_incident(actor=their_lead, data=parsed(incident_payload())).id
    mine = team.file()
    with pytest.raises(ValidationFailed) as err:
        queues.bulk_assign(actor=team.lead, incident_ids=[mine, theirs], assignee_id=team.lead.id)
    assert str(theirs) in err.value.fields["incident_ids"][0]
    with pytest.raises(NotFound):
        queues.claim(actor=team.lead, incident_id=theirs)


def test_counts_are_cached_briefly_and_cleared_by_assignment(team, in_org, app):
    first = team.file()
    app.config["QUEUE_COUNTS_TTL_SECONDS"] = 60
    try:
        assert queues.counts(actor=team.lead)["open"] == 1
        team.file()  # another writer: shows once the entry expires
        assert queues.counts(actor=team.lead)["open"] == 1
        queues.claim(actor=team.lead, incident_id=first)  # our own write clears the organisation's entries
        fresh = queues.counts(actor=team.lead)
        assert fresh["open"] == 2 and fresh["mine"] == 1
    finally:
        app.config.pop("QUEUE_COUNTS_TTL_SECONDS")
        queues._COUNTS_CACHE.clear()


def test_the_fast_item_dump_matches_the_schema(team, in_org):
    from app.queues.schemas import QueueItemSchema, dump_items

    a, b = team.file(severity="sev1"), team.file()
    team.set(b, queue_due_at=FAR_FUTURE)
    queues.assign(actor=team.lead, incident_id=a, assignee_id=team.responder.id)
    items, _ = queues.queue(actor=team.lead)
    assert dump_items(items) == QueueItemSchema(many=True).dump(items)
    assert {d["due_at"] is None for d in dump_items(items)} == {True, False}
