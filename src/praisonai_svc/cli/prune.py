"""``prune [--dry-run] [--older-than 7d] [--vacuum]``: run the pruner once, straight on the backend.

The same pruner a deployment runs on its leader every PRAISONAI_PRUNE_INTERVAL; from the CLI it is for a first
clean-up, a one-off shorter retention, or to see what the next run would remove.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import click

from praisonai_svc.backend import open_backend
from praisonai_svc.cli.options import load
from praisonai_svc.durations import format_duration, parse_duration
from praisonai_svc.errors import StorageError
from praisonai_svc.retention import Pruner, PruneReport


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.command()
@click.option("--app", "target", metavar="PATH | module:attr", default=None,
              help="The service (default: $PRAISONAI_APP, else handlers.py or app.py here).")
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
@click.option("--older-than", callback=_duration, default=None, metavar="DURATION",
              help="Remove terminal jobs older than this (e.g. 7d) instead of each service's retention.")
@click.option("--vacuum", is_flag=True, help="Local backend: also run a full one-off VACUUM (converts databases "
              "created before incremental auto-vacuum; rewrites the file, so run it when the service is quiet).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def prune(target: str | None, dry_run: bool, older_than: timedelta | None, vacuum: bool, as_json: bool) -> None:
    """Remove jobs, outputs and records that are past retention (docs/operations.md)."""
    app = load(target)

    async def run() -> PruneReport:
        backend = await open_backend(app.settings)
        try:
            report = await Pruner(app, backend).run_once(dry_run=dry_run, older_than=older_than)
            if vacuum and not dry_run and backend.compact is not None:
                await backend.compact(True)
            return report
        finally:
            await backend.close()

    try:
        report = asyncio.run(run())
    except StorageError as exc:
        raise click.ClickException(exc.message) from exc
    if as_json:
        click.echo(json.dumps({"dry_run": report.dry_run, "removed": report.removed, "outputs": report.outputs,
                               "examples": report.examples}, indent=2))
        return
    verb = "Would remove" if dry_run else "Removed"
    scope = f"older than {format_duration(older_than)}" if older_than else "past retention"
    if not report.removed:
        click.echo(f"Nothing {scope} to remove.")
        return
    for kind, count in sorted(report.removed.items()):
        examples = ", ".join(report.examples.get(kind, []))
        click.echo(f"{verb} {count} {kind} record(s) {scope}" + (f" (e.g. {examples})" if examples else ""))
    click.echo(f"{verb} {report.outputs} output file(s).")
