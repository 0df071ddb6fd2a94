"""The scoped-query mechanism: every ORM query of organisation-owned rows is filtered by construction."""
import pytest
from sqlalchemy import exists, func, select, update

from app.extensions import db
from app.incidents import service as incidents
from app.incidents.models import Incident, IncidentTag
from app.orgs.models import ApiToken, User
from app.tenancy import NoTenantScope, scoped


@pytest.fixture
def two_orgs(app, factory):
    a, b = factory.org("alpha"), factory.org("beta")
    ua, ub = factory.user(a, "lead"), factory.user(b, "lead")
    factory.token(ua)
    factory.token(ub)
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    data = {"title": "t", "description": "d", "severity": "sev3", "occurred_at": now - timedelta(hours=1),
            "aware_at": now, "jurisdictions": ["JP"]}
    for user in (ua, ub, ub):
        with app.app_context(), scoped(user.org_id):
            incidents.file_incident(actor=user, data=dict(data))
    return a, b, ua, ub


def test_no_scope_fails_closed(ctx, two_orgs):
    for stmt in (
        select(Incident),
        select(Incident.id),
        select(func.count()).select_from(User),
        select(func.count()).select_from(select(Incident.id).subquery()),
        update(ApiToken).values(name="x"),
    ):
        with pytest.raises(NoTenantScope):
            db.session.execute(stmt)
        db.session.rollback()


def test_core_table_is_refused(ctx, two_orgs):
    a = two_orgs[0]
    with scoped(a.id), pytest.raises(NoTenantScope):
        db.session.execute(select(func.count()).select_from(Incident.__table__))


def test_every_query_shape_is_filtered(ctx, two_orgs):
    a, b, ua, ub = two_orgs
    with scoped(a.id):
        assert db.session.execute(select(func.count()).select_from(Incident)).scalar_one() == 1
        assert db.session.execute(select(func.count()).select_from(User)).scalar_one() == 1
        assert len(db.session.execute(select(IncidentTag)).scalars().all()) == 1
        sub = select(Incident.id).where(exists().where(IncidentTag.incident_id == Incident.id))
        assert len(db.session.execute(sub).all()) == 1
        # A bulk update touches only this organisation's rows.
        db.session.execute(update(ApiToken).values(name="renamed"))
        db.session.commit()
    with scoped(b.id):
        assert db.session.execute(select(func.count()).select_from(Incident)).scalar_one() == 2
        names = db.session.execute(select(ApiToken.name)).scalars().all()
        assert names == ["test"]


def test_explicit_all_orgs_is_the_only_way_across(ctx, two_orgs):
    count = db.session.execute(
        select(func.count()).select_from(Incident).execution_options(all_orgs=True)
    ).scalar_one()
    assert count == 3
