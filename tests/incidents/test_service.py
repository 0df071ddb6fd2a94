"""Incident intake through the service: validation, numbering, tags and filters, visibility,
edits with optimistic concurrency, keyset pagination and tenant isolation."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.db import utcnow
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.incidents import service as incidents
from app.incidents import vocab
from app.incidents.models import Incident, IncidentTag, TimelineEvent
from app.orgs import service as orgs
from app.systems import service as systems
from app.tenancy import NoTenantScope, scoped

PASSWORD = "correct-horse-battery-staple"
JST = timezone(timedelta(hours=9))


ROLES = ("reporter", "responder", "lead", "executive", "admin")


class Org:
    """An organisation whose users (one per role) are created when first used, in its scope."""

    def __init__(self, slug):
        self.org = orgs.create_org(slug=slug, name=f"{slug} 株式会社")
        self.id = self.org.id
        self._users = {}

    def user(self, role):
        """The organisation's user with ``role`` (password hashing is slow: made on demand)."""
        if role not in self._users:
            with scoped(self.id):
                self._users[role] = orgs.create_user(
                    org=self.org, email=f"{role}@{self.org.slug}.example.jp", name=role, role=role,
                    password=PASSWORD)
        return self._users[role]

    @property
    def users(self):
        """Every role's user."""
        return {role: self.user(role) for role in ROLES}

    def __getattr__(self, role):
        if role in ROLES:
            return self.user(role)
        raise AttributeError(role)


@pytest.fixture
def acme(ctx):
    """The organisation under test, in scope."""
    org = Org("acme")
    with scoped(org.id):
        yield org


def payload(**overrides):
    """A valid incident, as the service takes it (aware datetimes)."""
    now = utcnow()
    data = {
        "title": "チャットボットが他の顧客の注文履歴を回答",
        "description": "The support chatbot answered with order details of a different customer.",
        "severity": "sev2",
        "occurred_at": now - timedelta(hours=5),
        "aware_at": now - timedelta(hours=2),
        "jurisdictions": ["JP"],
        "personal_data": True,
        "harm_types": ["privacy"],
    }
    data.update(overrides)
    return data


def file(actor, **overrides):
    """File an incident as ``actor``."""
    return incidents.file_incident(actor=actor, data=payload(**overrides))


def fields_of(exc_info):
    """The per-field messages of a raised ValidationFailed."""
    return exc_info.value.fields


# ---------------------------------------------------------------- filing


def test_file_incident_stores_the_facts(acme):
    system = systems.create_system(actor=acme.admin, data={"name": "Support bot"})
    occurred = datetime(2026, 1, 5, 9, 30, tzinfo=JST)
    incident = file(
        acme.reporter, kind="near_miss", occurred_at=occurred, aware_at=occurred + timedelta(hours=3),
        ai_system_id=system.id, harm_types=["privacy", "economic", "privacy"], harmed_parties=["consumers"],
        harmed_count=3, sector="retail", principles=["privacy", "security"], jurisdictions=["JP", "EU"],
        deaths=0, critical_infrastructure=False, widespread_infringement=False, serious_incident=True,
        wrongful_purpose=False, confidential=True,
    )
    got = incidents.get_incident(actor=acme.lead, incident_id=incident.id)
    assert got.ref == "AI-0001"
    assert got.org_id == acme.id and got.reporter_id == acme.reporter.id
    assert got.kind == "near_miss" and got.severity == "sev2"
    assert got.harm_types == ["privacy", "economic"]  # duplicates dropped, order kept
    assert got.jurisdictions == ["JP", "EU"]
    assert got.occurred_at == occurred and got.occurred_at.tzinfo is not None
    assert got.occurred_at.utcoffset() == timedelta(0)  # stored and returned in UTC
    assert got.ai_system_id == system.id and got.ai_system.name == "Support bot"
    assert got.confidential and got.serious_incident and got.personal_data and not got.wrongful_purpose
    # EU + serious: the EU AI Act workflow is selected (the selection tests cover the rest).
    assert (got.workflow, got.state, got.version) == ("eu-ai-act-serious-incident", "reported", 1)
    # JP + EU + personal data + serious: APPI, GDPR and Art. 73, plus the state's response target.
    assert {d.rule for d in got.deadlines} == {
        "appi-preliminary", "appi-final", "gdpr-33", "eu-ai-act-73", "target:reported"}
    events = incidents.timeline(actor=acme.lead, incident_id=incident.id)
    assert [(e.action, e.to_state, e.actor_id) for e in events] == [("filed", "reported", acme.reporter.id)]


def test_kind_defaults_to_incident(acme):
    assert file(acme.reporter).kind == "incident"


def test_filed_at_back_dates_the_filing(acme):
    filed_at = utcnow() - timedelta(days=30)
    incident = incidents.file_incident(
        actor=acme.reporter, filed_at=filed_at,
        data=payload(occurred_at=filed_at - timedelta(days=2), aware_at=filed_at - timedelta(days=1)),
    )
    assert incident.created_at == filed_at
    [event] = incidents.timeline(actor=acme.lead, incident_id=incident.id)
    assert event.at == filed_at


@pytest.mark.parametrize("missing", incidents.REQUIRED)
def test_required_fields(acme, missing):
    data = payload()
    del data[missing]
    with pytest.raises(ValidationFailed) as err:
        incidents.file_incident(actor=acme.reporter, data=data)
    assert fields_of(err) == {missing: ["Required."]}
    for empty in (None, ""):
        with pytest.raises(ValidationFailed) as err:
            incidents.file_incident(actor=acme.reporter, data=payload(**{missing: empty}))
        assert missing in fields_of(err)


def test_blank_text_is_required(acme):
    with pytest.raises(ValidationFailed) as err:
        file(acme.reporter, title="   ", description="\n\t")
    assert set(fields_of(err)) == {"title", "description"}


def test_times_in_order_and_not_in_the_future(acme):
    now = utcnow()
    with pytest.raises(ValidationFailed) as err:
        file(acme.reporter, occurred_at=now - timedelta(hours=1), aware_at=now - timedelta(hours=2))
    assert "aware_at" in fields_of(err)
    with pytest.raises(ValidationFailed) as err:
        file(acme.reporter, occurred_at=now - timedelta(hours=1), aware_at=now + timedelta(minutes=10))
    assert "aware_at" in fields_of(err)
    with pytest.raises(ValidationFailed) as err:
        file(acme.reporter, occurred_at=now + timedelta(hours=1), aware_at=now + timedelta(hours=2))
    assert {"occurred_at", "aware_at"} <= set(fields_of(err))
    # Equal times are fine, and a client clock a little ahead (under a minute) is tolerated.
    same = now - timedelta(minutes=5)
    assert file(acme.reporter, occurred_at=same, aware_at=same).aware_at == same
    skew = utcnow() + timedelta(seconds=30)
    assert file(acme.reporter, occurred_at=skew, aware_at=skew).aware_at == skew


@pytest.mark.parametrize("value", [
    datetime(2026, 1, 1, 9, 0),  # naive
    "2026-01-01T09:00:00+09:00",  # text: the API parses, the service takes datetimes
    1767225600,
])
def test_times_must_be_aware_datetimes(acme, value):
    with pytest.raises(ValidationFailed) as err:
        file(acme.reporter, occurred_at=value)
    assert "occurred_at" in fields_of(err)


def test_offsets_are_converted_to_utc(acme):
    occurred = datetime(2026, 3, 1, 8, 0, tzinfo=JST)
    incident = file(acme.reporter, occurred_at=occurred, aware_at=occurred)
    assert incident.occurred_at == datetime(2026, 2, 28, 23, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("field, value", [
    ("kind", "accident"),
    ("kind", None),
    ("severity", "sev0"),
    ("severity", "SEV1"),
    ("sector", "space"),
    ("harm_types", ["privacy", "boredom"]),
    ("harm_types", "privacy"),
    ("harm_types", [1, 2]),
    ("harmed_parties", ["aliens"]),
    ("principles", ["speed"]),
    ("jurisdictions", ["JP", "XX"]),
    ("jurisdictions", ["jp"]),
])
def test_enumerations(acme, field, value):
    with pytest.raises(ValidationFailed) as err:
        file(acme.reporter, **{field: value})
    assert field in fields_of(err)


def test_every_vocabulary_code_is_accepted(acme):
    incident = file(
        acme.reporter, harm_types=list(vocab.HARM_TYPES), harmed_parties=list(vocab.HARMED_PARTIES),
        principles=list(vocab.PRINCIPLES), jurisdictions=list(vocab.JURISDICTIONS), sector="",
    )
    assert incident.principles == list(vocab.PRINCIPLES)
    assert incident.sector is None
    for kind in vocab.KINDS:
        for severity in vocab.SEVERITIES:
            assert file(acme.reporter, kind=kind, severity=severity).severity == severity


def test_sizes(acme):
    assert len(file(acme.reporter, title="題" * 200).title) == 200
    assert len(file(acme.reporter, description="d" * 20000).description) == 20000
    with pytest.raises(ValidationFailed) as err:
        file(acme.reporter, title="題" * 201)
    assert "title" in fields_of(err)
    with pytest.raises(ValidationFailed) as err:
        file(acme.reporter, description="d" * 20001)
    assert "description" in fields_of(err)
    with pytest.raises(ValidationFailed) as err:
        file(acme.reporter, title=["not", "text"])
    assert "title" in fields_of(err)


@pytest.mark.parametrize("field, value, ok", [
    ("deaths", 0, True),
    ("deaths", 2, True),
    ("deaths", vocab.MAX_DEATHS, True),
    ("deaths", vocab.MAX_DEATHS + 1, False),
    ("deaths", -1, False),
    ("deaths", 1.5, False),
    ("deaths", "1", False),
    ("deaths", True, False),
    ("deaths", None, False),
    ("harmed_count", None, True),
    ("harmed_count", vocab.MAX_HARMED, True),
    ("harmed_count", vocab.MAX_HARMED + 1, False),
    ("harmed_count", -5, False),
    ("harmed_count", False, False),
])
def test_counts_bounds(acme, field, value, ok):
    if ok:
        assert getattr(file(acme.reporter, **{field: value}), field) == value
    else:
        with pytest.raises(ValidationFailed) as err:
            file(acme.reporter, **{field: value})
        assert field in fields_of(err)


@pytest.mark.parametrize("field", incidents.BOOL_FIELDS)
@pytest.mark.parametrize("value", ["true", 1, 0, None, "yes"])
def test_booleans_are_strict(acme, field, value):
    with pytest.raises(ValidationFailed) as err:
        file(acme.reporter, **{field: value})
    assert field in fields_of(err)


def test_invalid_filing_leaves_nothing_behind(acme):
    with pytest.raises(ValidationFailed):
        file(acme.reporter, severity="sev9")
    assert incidents.list_incidents(actor=acme.lead)[0] == []
    assert file(acme.reporter).number == 1  # the number was not used up


def test_ai_system_of_another_organisation_is_not_found(ctx):
    other = Org("other")
    with scoped(other.id):
        theirs = systems.create_system(actor=other.admin, data={"name": "Their model"})
    acme = Org("acme")
    with scoped(acme.id):
        with pytest.raises(ValidationFailed) as err:
            file(acme.reporter, ai_system_id=theirs.id)
        assert fields_of(err) == {"ai_system_id": ["AI system not found."]}
        with pytest.raises(ValidationFailed) as err:
            file(acme.reporter, ai_system_id=987654)
        assert fields_of(err) == {"ai_system_id": ["AI system not found."]}
        for bad in ("1", True, 1.0):
            with pytest.raises(ValidationFailed) as err:
                file(acme.reporter, ai_system_id=bad)
            assert "ai_system_id" in fields_of(err)
        incident = file(acme.reporter, ai_system_id=None)
        with pytest.raises(ValidationFailed):
            incidents.update_incident(actor=acme.lead, incident_id=incident.id, version=1,
                                      data={"ai_system_id": theirs.id})
        assert incidents.get_incident(actor=acme.lead, incident_id=incident.id).ai_system_id is None


# ---------------------------------------------------------------- numbering


def test_numbers_are_per_organisation(ctx):
    acme, other = Org("acme"), Org("other")
    with scoped(acme.id):
        a = [file(acme.reporter).ref for _ in range(3)]
    with scoped(other.id):
        b = [file(other.responder).ref for _ in range(2)]
    with scoped(acme.id):
        a.append(file(acme.lead).ref)
    assert a == ["AI-0001", "AI-0002", "AI-0003", "AI-0004"]
    assert b == ["AI-0001", "AI-0002"]


# ---------------------------------------------------------------- tags and filters


def _tags(incident_id):
    rows = db.session.execute(select(IncidentTag).where(IncidentTag.incident_id == incident_id)).scalars()
    return {(t.facet, t.value) for t in rows}


def _refs(actor, **filters):
    items, _ = incidents.list_incidents(actor=actor, filters=filters, limit=200)
    return {i.title for i in items}


def test_tags_written_for_list_facts(acme):
    incident = file(acme.reporter, jurisdictions=["JP", "EU"], harm_types=["privacy", "discrimination"],
                    principles=["fairness"], harmed_parties=["consumers"])
    assert _tags(incident.id) == {
        ("jurisdiction", "JP"), ("jurisdiction", "EU"), ("harm_type", "privacy"),
        ("harm_type", "discrimination"), ("principle", "fairness"),
    }
    assert all(t.org_id == acme.id for t in db.session.execute(select(IncidentTag)).scalars())


def test_filters(acme):
    file(acme.reporter, title="JP privacy leak", jurisdictions=["JP"], harm_types=["privacy"],
         principles=["privacy"], severity="sev2", kind="incident")
    file(acme.responder, title="EU bias in hiring", jurisdictions=["EU", "JP"], harm_types=["discrimination"],
         principles=["fairness", "transparency"], severity="sev1", kind="hazard",
         description="CV screening ranked older applicants lower.")
    file(acme.lead, title="US robot near miss", jurisdictions=["US"], harm_types=["physical"],
         principles=["safety"], severity="sev4", kind="near_miss")
    lead = acme.lead
    assert _refs(lead) == {"JP privacy leak", "EU bias in hiring", "US robot near miss"}
    assert _refs(lead, jurisdiction="JP") == {"JP privacy leak", "EU bias in hiring"}
    assert _refs(lead, jurisdiction="EU") == {"EU bias in hiring"}
    assert _refs(lead, jurisdiction="CN") == set()
    assert _refs(lead, harm_type="physical") == {"US robot near miss"}
    assert _refs(lead, principle="transparency") == {"EU bias in hiring"}
    assert _refs(lead, severity="sev1") == {"EU bias in hiring"}
    assert _refs(lead, kind="near_miss") == {"US robot near miss"}
    assert _refs(lead, state="reported") == {"JP privacy leak", "EU bias in hiring", "US robot near miss"}
    assert _refs(lead, state="closed") == set()
    assert _refs(lead, q="older applicants") == {"EU bias in hiring"}  # description
    assert _refs(lead, q="robot") == {"US robot near miss"}  # title
    assert _refs(lead, q="Robot") == {"US robot near miss"}  # case-insensitive (ASCII)
    assert _refs(lead, jurisdiction="JP", severity="sev2") == {"JP privacy leak"}
    assert _refs(lead, jurisdiction="JP", harm_type="physical") == set()
    assert _refs(lead, mine=True) == {"US robot near miss"}


def test_filter_by_system_and_japanese_search(acme):
    bot = systems.create_system(actor=acme.admin, data={"name": "さくらサポート"})
    file(acme.reporter, title="チャットボットが割引コードを回答", ai_system_id=bot.id)
    file(acme.reporter, title="Forecast overshoot")
    assert _refs(acme.lead, ai_system_id=bot.id) == {"チャットボットが割引コードを回答"}
    assert _refs(acme.lead, q="割引コード") == {"チャットボットが割引コードを回答"}
    assert [i.title for i in incidents.incidents_for_system(actor=acme.lead, system_id=bot.id)] == [
        "チャットボットが割引コードを回答"]


def test_edit_rewrites_tags(acme):
    incident = file(acme.reporter, jurisdictions=["JP"], harm_types=["privacy"])
    incidents.update_incident(actor=acme.lead, incident_id=incident.id, version=1,
                              data={"jurisdictions": ["EU"], "harm_types": []})
    assert _tags(incident.id) == {("jurisdiction", "EU")}
    assert _refs(acme.lead, jurisdiction="JP") == set()
    assert len(_refs(acme.lead, jurisdiction="EU")) == 1


# ---------------------------------------------------------------- visibility


def test_reporter_sees_only_own_incidents_staff_see_all(acme):
    second = orgs.create_user(org=acme.org, email="second@acme.example.jp", name="", role="reporter",
                              password=PASSWORD)
    mine = file(acme.reporter, title="mine")
    theirs = file(second, title="theirs")
    staff_filed = file(acme.responder, title="staff")
    assert _refs(acme.reporter) == {"mine"}
    assert _refs(second) == {"theirs"}
    assert incidents.get_incident(actor=acme.reporter, incident_id=mine.id).id == mine.id
    for hidden in (theirs, staff_filed):
        with pytest.raises(NotFound):
            incidents.get_incident(actor=acme.reporter, incident_id=hidden.id)
        with pytest.raises(NotFound):
            incidents.timeline(actor=acme.reporter, incident_id=hidden.id)
    for role in incidents.STAFF_ROLES:
        assert _refs(acme.users[role]) == {"mine", "theirs", "staff"}


def test_confidential_reporter_is_shown_to_admins_and_the_reporter_only(acme):
    secret = file(acme.reporter, confidential=True)
    open_ = file(acme.reporter)
    assert incidents.can_see_reporter(viewer=acme.admin, incident=secret)
    assert incidents.can_see_reporter(viewer=acme.reporter, incident=secret)
    for role in ("responder", "lead", "executive"):
        assert not incidents.can_see_reporter(viewer=acme.users[role], incident=secret)
        assert incidents.can_see_reporter(viewer=acme.users[role], incident=open_)


# ---------------------------------------------------------------- editing


def test_edit_records_changes_and_bumps_version(acme):
    incident = file(acme.reporter, severity="sev3", title="Old title")
    edited = incidents.update_incident(actor=acme.responder, incident_id=incident.id, version=1,
                                       data={"severity": "sev1", "title": "New title", "deaths": 0})
    assert edited.version == 2 and edited.severity == "sev1" and edited.title == "New title"
    events = incidents.timeline(actor=acme.lead, incident_id=incident.id)
    assert [e.action for e in events] == ["filed", "edited"]
    assert events[1].actor_id == acme.responder.id
    # Only real changes are recorded (deaths was already 0).
    assert events[1].data == {"changes": {"severity": ["sev3", "sev1"], "title": ["Old title", "New title"]}}


def test_edit_with_no_change_is_a_no_op(acme):
    incident = file(acme.reporter, severity="sev3")
    same = incidents.update_incident(actor=acme.lead, incident_id=incident.id, version=1, data={"severity": "sev3"})
    assert same.version == 1
    assert [e.action for e in incidents.timeline(actor=acme.lead, incident_id=incident.id)] == ["filed"]


def test_edit_times_are_checked_against_the_stored_ones(acme):
    incident = file(acme.reporter)
    filed_aware = incident.aware_at
    with pytest.raises(ValidationFailed) as err:
        incidents.update_incident(actor=acme.lead, incident_id=incident.id, version=1,
                                  data={"aware_at": incident.occurred_at - timedelta(minutes=1)})
    assert "aware_at" in fields_of(err)
    later = incident.aware_at + timedelta(minutes=30)
    edited = incidents.update_incident(actor=acme.lead, incident_id=incident.id, version=1, data={"aware_at": later})
    event = incidents.timeline(actor=acme.lead, incident_id=incident.id)[-1]
    old_aware = incidents.get_incident(actor=acme.lead, incident_id=incident.id)
    assert event.data["changes"]["aware_at"][1] == later.isoformat()
    assert datetime.fromisoformat(event.data["changes"]["aware_at"][0]) == filed_aware
    assert old_aware.aware_at == later
    assert edited.aware_at == later


def test_stale_version_is_a_conflict_and_changes_nothing(acme):
    incident = file(acme.reporter, severity="sev3")
    incidents.update_incident(actor=acme.lead, incident_id=incident.id, version=1, data={"severity": "sev2"})
    with pytest.raises(Conflict) as err:
        incidents.update_incident(actor=acme.responder, incident_id=incident.id, version=1,
                                  data={"severity": "sev4", "title": "Overwritten"})
    assert "version" in err.value.fields
    db.session.expire_all()
    fresh = incidents.get_incident(actor=acme.lead, incident_id=incident.id)
    assert (fresh.severity, fresh.version) == ("sev2", 2)
    assert fresh.title != "Overwritten"
    assert [e.action for e in incidents.timeline(actor=acme.lead, incident_id=incident.id)] == ["filed", "edited"]


def test_concurrent_edit_detected_at_write_is_a_conflict(acme):
    incident = file(acme.reporter, severity="sev3")
    # Someone else commits version 2 behind this session's back (another request).
    db.session.execute(
        db.update(Incident).where(Incident.id == incident.id).values(severity="sev1", version=2)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    # This session still holds version 1 and passes the early check; the write must fail.
    with pytest.raises(Conflict):
        incidents.update_incident(actor=acme.lead, incident_id=incident.id, version=1, data={"severity": "sev4"})
    db.session.expire_all()
    fresh = incidents.get_incident(actor=acme.lead, incident_id=incident.id)
    assert (fresh.severity, fresh.version) == ("sev1", 2)
    events = db.session.execute(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id)).scalars().all()
    assert [e.action for e in events] == ["filed"]


@pytest.mark.parametrize("role", ["reporter", "executive"])
def test_reporter_and_executive_may_not_edit(acme, role):
    incident = file(acme.users[role])
    with pytest.raises(Forbidden):
        incidents.update_incident(actor=acme.users[role], incident_id=incident.id, version=1,
                                  data={"severity": "sev1"})
    assert incidents.get_incident(actor=acme.lead, incident_id=incident.id).severity == "sev2"


def test_reporter_editing_someone_elses_incident_is_not_found(acme):
    incident = file(acme.lead)
    with pytest.raises(NotFound):
        incidents.update_incident(actor=acme.reporter, incident_id=incident.id, version=1, data={"severity": "sev1"})


def test_edit_validation(acme):
    incident = file(acme.reporter)
    with pytest.raises(ValidationFailed) as err:
        incidents.update_incident(actor=acme.lead, incident_id=incident.id, version=1,
                                  data={"reporter_id": acme.lead.id, "state": "closed"})
    assert set(fields_of(err)) == {"reporter_id", "state"}
    for version in (None, "1", True):
        with pytest.raises(ValidationFailed) as err:
            incidents.update_incident(actor=acme.lead, incident_id=incident.id, version=version,
                                      data={"severity": "sev1"})
        assert "version" in fields_of(err)
    with pytest.raises(ValidationFailed) as err:
        incidents.update_incident(actor=acme.lead, incident_id=incident.id, version=1, data={"title": ""})
    assert "title" in fields_of(err)
    assert incidents.get_incident(actor=acme.lead, incident_id=incident.id).version == 1


# ---------------------------------------------------------------- pagination


def test_keyset_pagination_returns_every_item_once(acme):
    ids = [file(acme.reporter, title=f"Incident {n}").id for n in range(23)]
    seen, cursor, pages = [], None, 0
    while True:
        items, cursor = incidents.list_incidents(actor=acme.lead, limit=5, cursor=cursor)
        pages += 1
        seen += [i.id for i in items]
        if cursor is None:
            break
        # A new filing between pages appears on no later page (it is newer than the cursor).
        if pages == 2:
            file(acme.reporter, title="late")
    assert pages == 5
    assert seen == sorted(ids, reverse=True)


def test_pagination_exact_multiple_has_no_empty_last_page(acme):
    for n in range(4):
        file(acme.reporter, title=f"Incident {n}")
    items, cursor = incidents.list_incidents(actor=acme.lead, limit=2)
    items2, cursor2 = incidents.list_incidents(actor=acme.lead, limit=2, cursor=cursor)
    assert len(items) == len(items2) == 2 and cursor2 is None


def test_pagination_with_filters(acme):
    for n in range(7):
        file(acme.reporter, title=f"Incident {n}", severity="sev1" if n % 2 else "sev3")
    seen, cursor = [], None
    while True:
        items, cursor = incidents.list_incidents(actor=acme.lead, filters={"severity": "sev1"}, limit=2, cursor=cursor)
        seen += [i.title for i in items]
        if not cursor:
            break
    assert seen == ["Incident 5", "Incident 3", "Incident 1"]


@pytest.mark.parametrize("cursor", ["not-base64!", "eDEy", incidents.encode_cursor(5)[:-1] + "$"])
def test_malformed_cursor(acme, cursor):
    with pytest.raises(ValidationFailed) as err:
        incidents.list_incidents(actor=acme.lead, cursor=cursor)
    assert "cursor" in fields_of(err)


def test_cursor_round_trip():
    assert incidents.decode_cursor(incidents.encode_cursor(12345)) == 12345


# ---------------------------------------------------------------- tenancy


def test_query_with_no_scope_fails_closed(ctx):
    acme = Org("acme")
    with scoped(acme.id):
        incident = file(acme.reporter)
    with pytest.raises(NoTenantScope):
        db.session.execute(select(Incident)).all()
    with pytest.raises(NoTenantScope):
        db.session.execute(select(Incident.id).where(Incident.id == incident.id)).all()
    with pytest.raises(NoTenantScope):
        incidents.list_incidents(actor=acme.lead)
    with pytest.raises(NoTenantScope):
        incidents.get_incident(actor=acme.lead, incident_id=incident.id)


def test_another_organisations_incident_is_not_found(ctx):
    acme, other = Org("acme"), Org("other")
    with scoped(acme.id):
        incident = file(acme.reporter, title="Acme's secret")
    with scoped(other.id):
        file(other.reporter, title="Other's own")
        for role, user in other.users.items():
            with pytest.raises(NotFound):
                incidents.get_incident(actor=user, incident_id=incident.id)
            with pytest.raises(NotFound):
                incidents.timeline(actor=user, incident_id=incident.id)
            assert "Acme's secret" not in _refs(user)
        with pytest.raises(NotFound):
            incidents.update_incident(actor=other.lead, incident_id=incident.id, version=1, data={"title": "pwned"})
        assert _refs(other.lead, q="secret") == set()
        assert db.session.execute(select(IncidentTag).where(IncidentTag.incident_id == incident.id)).all() == []
    with scoped(acme.id):
        fresh = incidents.get_incident(actor=acme.lead, incident_id=incident.id)
        assert fresh.title == "Acme's secret" and fresh.version == 1
