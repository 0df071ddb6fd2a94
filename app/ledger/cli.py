"""``flask ledger verify``, ``flask ledger checkpoint`` and ``flask ledger public-key``."""
import json
import sys

import click
from flask.cli import AppGroup

ledger_cli = AppGroup("ledger", help="The tamper-evident ledger.")


def _orgs(slug):
    from app.orgs import service as orgs

    if slug:
        org = orgs.get_org_by_slug(slug)
        if org is None:
            click.echo(f"no organisation {slug!r}", err=True)
            sys.exit(2)
        return [org]
    return orgs.all_orgs()


@ledger_cli.command("verify")
@click.option("--org", "slug", default=None, help="One organisation (default: all).")
@click.option("--checkpoint", "checkpoint_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Also check a checkpoint JSON kept by an auditor (from `flask ledger checkpoint`).")
def verify(slug, checkpoint_file):
    """Exit 0 when every organisation's ledger is intact; else name the first broken entry."""
    from app.ledger import service

    bad = False
    for org in _orgs(slug):
        result = service.verify(org.id)
        if result["ok"]:
            click.echo(f"ok: {org.slug}: {result['entries']} entries, head {result['head']['seq']}")
        else:
            bad = True
            first = result["first_bad"]
            click.echo(f"BROKEN: {org.slug}: entry seq {first['seq']} (id {first['id']}): {first['problem']}")
    if checkpoint_file:
        with open(checkpoint_file, encoding="utf-8") as fh:
            document = json.load(fh)
        org_id = json.loads(document["statement"])["org"]
        check = service.verify_against(org_id, document)
        if check["ok"]:
            click.echo(f"ok: checkpoint seq {document['seq']} matches the ledger")
        else:
            bad = True
            click.echo(f"BROKEN: checkpoint: {check['problem']}")
    sys.exit(1 if bad else 0)


@ledger_cli.command("checkpoint")
@click.option("--org", "slug", default=None, help="One organisation (default: all).")
def checkpoint(slug):
    """Sign each organisation's chain head; print the checkpoint JSON (one per line) to keep."""
    from app.ledger import service

    for org in _orgs(slug):
        row = service.checkpoint(org.id)
        click.echo(json.dumps(service.checkpoint_document(row), ensure_ascii=False, sort_keys=True))


@ledger_cli.command("public-key")
def public_key():
    """Print the public key that verifies checkpoints (PEM)."""
    from app.ledger import service

    click.echo(service.public_key_pem(), nl=False)
