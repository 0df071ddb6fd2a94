"""``flask workflows check [PATH]``: validate definitions the way the service does at start."""
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from app.workflow import loader

workflows_cli = AppGroup("workflows", help="Workflow definitions.")


@workflows_cli.command("check")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
def check(path):
    """Validate a definition file, or every *.yaml of a folder (default: the shipped folder)."""
    path = path or loader.SHIPPED_DIR
    problems = 0
    if path.is_dir():
        files = loader.definition_files(path)
        if not files:
            click.echo(f"{path}: no workflow definitions (*.yaml) found", err=True)
            sys.exit(1)
        loaded, known = {}, loader.known_rule_ids()
        for file in files:
            try:
                definition = loader.load_file(file)
            except loader.DefinitionError as exc:
                problems += len(exc.problems)
                click.echo(str(exc), err=True)
                continue
            if definition.id in loaded:
                problems += 1
                click.echo(f"{definition.source}: id: {definition.id!r} is already defined in "
                           f"{loaded[definition.id].source}", err=True)
                continue
            loaded[definition.id] = definition
            unknown = loader.unknown_rules(definition, known)
            for message in unknown:
                click.echo(f"{definition.source}: {message}", err=True)
            problems += len(unknown)
            if not unknown:
                click.echo(f"OK {definition.source} ({definition.id} v{definition.version})")
        for message in loader.check_set(loaded, complete=problems == 0):
            problems += 1
            click.echo(f"{path}: {message}", err=True)
    else:
        try:
            definition = loader.load_file(path)
        except loader.DefinitionError as exc:
            problems += len(exc.problems)
            click.echo(str(exc), err=True)
        else:
            unknown = loader.unknown_rules(definition, loader.known_rule_ids())
            for message in unknown:
                click.echo(f"{definition.source}: {message}", err=True)
            problems += len(unknown)
            if not unknown:
                click.echo(f"OK {definition.source} ({definition.id} v{definition.version})")
    if problems:
        click.echo(f"{problems} problem(s) found", err=True)
        sys.exit(1)
