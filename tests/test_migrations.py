"""Migrations: ``flask db upgrade`` builds the whole schema on an empty database, the
models and the migrations agree (autogenerate finds no difference), and the chain
downgrades to base and upgrades again. Runs on the suite's database kind (SQLite, or
PostgreSQL in CI's second pass) in a fresh database of its own."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.extensions import db


def _differences(application):
    """What alembic's autogenerate would change to make the database match the models."""
    with application.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "render_as_batch": conn.dialect.name == "sqlite",
                "target_metadata": db.metadata,
            },
        )
        return compare_metadata(context, db.metadata)


def _tables(application):
    with application.app_context():
        db.session.remove()
        return set(inspect(db.engine).get_table_names())


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
