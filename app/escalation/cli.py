"""``flask escalation sweep [--every N]`` and ``flask escalation check``."""
import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup

escalation_cli = AppGroup("escalation", help="Escalation policies and the due-time sweep.")


@escalation_cli.command("sweep")
@click.option("--every", type=int, default=None,
              help="Keep sweeping every N seconds (the production sweep process). Without it: one sweep.")
@click.option("--iterations", type=int, default=None, help="Stop after this many sweeps (with --every).")
def sweep(every, iterations):
    """Record every escalation that is due and enqueue overdue notifications."""
    from app.escalation import runner, service
    from app.queue import wait_for_jobs

    app = current_app._get_current_object()
    if every is None:
        counts = service.sweep()
        wait_for_jobs(timeout=60)
        click.echo(json.dumps(counts))
        return
    click.echo(f"sweeping every {every} s (Ctrl-C stops)")
    try:
        runner.loop(app, every, iterations=iterations)
    except KeyboardInterrupt:
        pass


@escalation_cli.command("check")
@click.argument("path", required=False)
def check(path):
    """Validate the escalation policies (or one file): exit 1 naming each problem."""
    from app.escalation import policy
    from app.workflow.loader import DefinitionError

    try:
        found = {p.id: p for p in [policy.load_file(path)]} if path else policy.load_folder()
    except DefinitionError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    for p in found.values():
        click.echo(f"ok: {p.id} v{p.version} ({len(p.levels)} levels, {len(p.triggers)} triggers)")
