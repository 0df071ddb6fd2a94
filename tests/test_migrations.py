"""Migrations: ``flask db upgrade`` builds the whole schema on an empty database, the
models and the migrations agree (autogenerate finds no difference), and the chain
downgrades to base and upgrades again. Runs on the suite's database kind (SQLite, or
PostgreSQL in CI's second pass) in a fresh database of its own."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.extensions import db
from app.search.schema import include_object, is_search_table


def _differences(application):
    """What alembic's autogenerate would change to make the database match the models."""
    with application.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "render_as_batch": conn.dialect.name == "sqlite",
                "target_metadata": db.metadata,
                # as migrations/env.py: the search objects of 0004 are not described by models
                "include_object": include_object,
            },
        )
        return compare_metadata(context, db.metadata)


def _tables(application):
    with application.app_context():
        db.session.remove()
        return {t for t in inspect(db.engine).get_table_names() if not is_search_table(t)}


def _cli(application, *args):
    result = application.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_upgrade_builds_the_schema_the_models_describe(make_app, fresh_database_url):
    application = make_app(fresh_database_url)
    assert _tables(application) == set()
    _cli(application, "db", "upgrade")
    model_tables = set(db.metadata.tables)
    assert model_tables, "no models registered"
    assert _tables(application) == model_tables | {"alembic_version"}
    assert _differences(application) == []


def test_downgrade_to_base_and_upgrade_again(make_app, fresh_database_url):
    application = make_app(fresh_database_url)
    _cli(application, "db", "upgrade")
    _cli(application, "db", "downgrade", "base")
    assert _tables(application) <= {"alembic_version"}
    _cli(application, "db", "upgrade")
    assert _tables(application) == set(db.metadata.tables) | {"alembic_version"}
    assert _differences(application) == []


def test_single_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from app import ROOT

    config = Config(str(ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}; merge them"


def test_the_comparison_would_notice_a_model_change(make_app, fresh_database_url):
    """Guard the guard: a column the migrations lack shows up as a difference."""
    from sqlalchemy import Column, Integer, MetaData

    application = make_app(fresh_database_url)
    _cli(application, "db", "upgrade")
    changed = MetaData()
    for table in db.metadata.tables.values():
        table.to_metadata(changed)
    first = sorted(changed.tables)[0]
    changed.tables[first].append_column(Column("not_migrated", Integer))
    with application.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, changed)
    assert any(op[0] == "add_column" and op[3].name == "not_migrated" for op in diff), diff


def test_upgrade_keeps_the_data_of_last_releases_database(make_app, fresh_database_url):
    """A database at 0001 (the foundation release) with incidents in it upgrades to head:
    nothing is lost and the new columns get sensible values."""
    from datetime import datetime, timezone

    from sqlalchemy import text

    application = make_app(fresh_database_url)
    _cli(application, "db", "upgrade", "0001")
    filed = datetime(2026, 11, 1, 3, 0, tzinfo=timezone.utc)
    with application.app_context(), db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO organisation (id, slug, name, timezone, default_locale, incident_seq, created_at) "
            "VALUES (1, 'acme', 'Acme', 'Asia/Tokyo', 'ja', 1, :t)"), {"t": filed.replace(tzinfo=None)})
        conn.execute(text(
            "INSERT INTO incident (id, org_id, number, title, description, kind, severity, occurred_at, aware_at, "
            "harm_types, harmed_parties, principles, jurisdictions, personal_data, deaths, critical_infrastructure, "
            "widespread_infringement, serious_incident, wrongful_purpose, confidential, workflow, state, version, "
            "created_at, updated_at) VALUES (1, 1, 1, '既存のインシデント', 'd', 'incident', 'sev2', :t, :t, "
            "'[]', '[]', '[]', '[\"JP\"]', false, 0, false, false, false, false, false, 'jp-ai-incident', "
            "'reported', 3, :t, :t)"), {"t": filed.replace(tzinfo=None)})
    _cli(application, "db", "upgrade")
    assert _differences(application) == []
    with application.app_context():
        from app.incidents.models import FAR_FUTURE, Incident

        row = db.session.execute(
            db.select(Incident).execution_options(all_orgs=True)
        ).scalar_one()
        assert row.title == "既存のインシデント" and row.version == 3
        assert row.is_open is True and row.workflow_version == 1
        assert row.state_entered_at == filed
        assert row.queue_due_at == FAR_FUTURE
