"""Flask commands of the contract: org, user, token, demo (``db`` comes from Flask-Migrate)."""
import sys

import click
from flask.cli import AppGroup, with_appcontext

from app.errors import AppError
from app.orgs import service as orgs
from app.orgs.models import ROLES
from app.tenancy import scoped

org_cli = AppGroup("org", help="Organisations.")
user_cli = AppGroup("user", help="Users.")
token_cli = AppGroup("token", help="API tokens.")


def _fail(err):
    message = getattr(err, "message", str(err))
    fields = getattr(err, "fields", None) or {}
    detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
    click.echo(f"error: {message}" + (f" ({detail})" if detail else ""), err=True)
    sys.exit(1)


@org_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="Display name.")
@click.option("--timezone", default="Asia/Tokyo", show_default=True)
@click.option("--locale", "default_locale", type=click.Choice(["ja", "en"]), default="ja", show_default=True)
def org_create(slug, name, timezone, default_locale):
    """Create an organisation."""
    try:
        org = orgs.create_org(slug=slug, name=name, timezone=timezone, default_locale=default_locale)
    except AppError as err:
        _fail(err)
    click.echo(f"created organisation {org.slug} (id {org.id})")


@user_cli.command("create")
@click.argument("email")
@click.option("--org", "org_slug", required=True, help="Organisation slug.")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default=None)
@click.option("--locale", type=click.Choice(["ja", "en"]), default=None)
def user_create(email, org_slug, role, password, name, locale):
    """Create a user in an organisation."""
    org = orgs.get_org_by_slug(org_slug)
    if org is None:
        _fail(AppError(f"no organisation {org_slug!r}"))
    try:
        with scoped(org.id):
            user = orgs.create_user(org=org, email=email, name=name, role=role, password=password, locale=locale)
    except AppError as err:
        _fail(err)
    click.echo(f"created user {user.email} ({user.role}) in {org.slug}")


@token_cli.command("create")
@click.argument("email")
@click.option("--name", default="CLI token")
def token_create(email, name):
    """Create an API token; the token is the last line printed."""
    user = orgs.find_user_by_email(email)
    if user is None or not user.active:
        _fail(AppError(f"no active user {email!r}"))
    with scoped(user.org_id):
        _, raw = orgs.create_token(user=user, name=name)
    click.echo(f"token for {user.email} (shown once; store it now):")
    click.echo(raw)


@click.command("demo")
@with_appcontext
@click.option("--slug", default="demo", show_default=True)
@click.option("--password", default="demo-password-2026", show_default=True)
def demo(slug, password):
    """Load a realistic bilingual demo organisation (idempotent: skipped if it exists)."""
    from app import demo as demo_data

    try:
        created = demo_data.load(slug=slug, password=password)
    except AppError as err:
        _fail(err)
    if created is None:
        click.echo(f"demo organisation {slug!r} already exists; nothing to do")
        return
    click.echo(created)


def register(app):
    """Attach the command groups to the app."""
    app.cli.add_command(org_cli)
    app.cli.add_command(user_cli)
    app.cli.add_command(token_cli)
    app.cli.add_command(demo)
    from app.workflow.cli import workflows_cli

    app.cli.add_command(workflows_cli)
    from app.escalation.cli import escalation_cli
    from app.ledger.cli import ledger_cli

    app.cli.add_command(escalation_cli)
    app.cli.add_command(ledger_cli)
