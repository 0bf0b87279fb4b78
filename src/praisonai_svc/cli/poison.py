"""``poison list | show JOB | requeue JOB | purge``: review the poison queue straight on the backend.

Like the worker, it loads the service (``--app``, else PRAISONAI_APP, else handlers.py / app.py here) to learn
its queues, and opens the storage backend the settings point at — no running API needed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import open_backend
from praisonai_svc.cli.options import load
from praisonai_svc.errors import ConcurrencyConflict, JobNotFound, StorageError
from praisonai_svc.poison import NotRequeueable, PoisonEntry, PoisonReview

T = TypeVar("T")


def _with_review(app: ServiceApp, action: Callable[[PoisonReview], Awaitable[T]]) -> T:
    async def run() -> T:
        backend = await open_backend(app.settings)
        try:
            return await action(PoisonReview(app, backend))
        finally:
            await backend.close()

    try:
        return asyncio.run(run())
    except JobNotFound as exc:
        raise click.ClickException("No job with that id.") from exc
    except (NotRequeueable, ConcurrencyConflict, StorageError) as exc:
        raise click.ClickException(exc.message) from exc


def _entry_dict(entry: PoisonEntry) -> dict[str, Any]:
    data = dict(vars(entry))
    data["dead_utc"] = entry.dead_utc.isoformat()
    return data


app_option = click.option("--app", "target", metavar="PATH | module:attr", default=None,
                          help="The service (default: $PRAISONAI_APP, else handlers.py or app.py here).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.group()
def poison() -> None:
    """Review the poison queue: jobs that failed every attempt (seed 001 §11.3, manual review)."""


@poison.command("list")
@app_option
@json_option
@click.option("--limit", type=click.IntRange(1, 32), default=32, show_default=True,
              help="Oldest messages shown per service queue (Azure peeks at most 32).")
def list_command(target: str | None, as_json: bool, limit: int) -> None:
    """Poison messages of every service queue: job id, when, after how many attempts, why."""
    app = load(target)

    async def action(review: PoisonReview) -> tuple[list[Any], list[PoisonEntry]]:
        return await review.depths(), await review.entries(limit)

    depths, entries = _with_review(app, action)
    if as_json:
        click.echo(json.dumps({"queues": [vars(d) for d in depths], "messages": [_entry_dict(e) for e in entries]},
                              indent=2))
        return
    for depth in depths:
        click.echo(f"{depth.service}: queue {depth.queue} holds {depth.depth}, poison queue {depth.poison_depth}")
    for entry in entries:
        click.echo(f"{entry.dead_utc:%Y-%m-%d %H:%M:%S}Z  {entry.job_id}  [{entry.service}] attempts="
                   f"{entry.dequeue_count} job={entry.job_status or 'missing'}  {entry.reason[:200]}")
    if not entries:
        click.echo("The poison queue is empty.")


@poison.command("show")
@click.argument("job_id")
@app_option
def show(job_id: str, target: str | None) -> None:
    """The job record (payload, error, history) and its poison message(s), as JSON."""
    app = load(target)
    job, entries = _with_review(app, lambda review: review.show(job_id))
    document = job.model_dump(mode="json")
    document["poison_messages"] = [_entry_dict(e) for e in entries]
    click.echo(json.dumps(document, indent=2))


@poison.command("requeue")
@click.argument("job_id")
@app_option
def requeue(job_id: str, target: str | None) -> None:
    """Run a failed job again: attempts start from 0, its earlier outcome is kept in its history."""
    app = load(target)
    job = _with_review(app, lambda review: review.requeue(job_id))
    click.echo(f"Requeued {job.job_id} ({job.service}); earlier outcomes kept: {len(job.history)}.")


@poison.command("purge")
@app_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge(target: str | None, yes: bool) -> None:
    """Delete every poison message (the jobs stay in error and can still be requeued by id)."""
    app = load(target)
    if not yes:
        click.confirm("Delete every message of every poison queue?", abort=True)
    count = _with_review(app, lambda review: review.purge())
    click.echo(f"Deleted {count} poison message(s).")
