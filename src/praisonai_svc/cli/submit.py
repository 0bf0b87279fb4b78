"""``submit``: send a YAML/JSON job, optionally wait with a progress bar and save the result.

All HTTP goes through :class:`praisonai_svc.client.Client` (credentials only to the service's own origin,
signed links fetched without them, 429/503 retried as Retry-After says); this module only talks to the user.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from praisonai_svc.cli.remote import URL_OPTION, client_for
from praisonai_svc.client import Client, ClientError, Job, WaitTimeout
from praisonai_svc.errors import PayloadError

console = Console(stderr=True)


def wait_with_progress(client: Client, job: Job, timeout: float) -> Job:
    columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[msg]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(job.status.value, total=1.0, msg="")

        def show(update: Job) -> None:
            bar.update(task, description=update.status.value, completed=update.progress or 0,
                       msg=update.progress_msg or "")

        try:
            return client.wait(job.job_id, timeout, on_update=show)
        except WaitTimeout as exc:
            raise click.ClickException(f"Gave up waiting after {timeout:g}s: {exc.message}") from exc


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@URL_OPTION
@click.option("--service", default=None, help="Service to run (default: the app's first).")
@click.option("--api-key", envvar="PRAISONAI_API_KEY", show_envvar=True, default=None,
              help="API key (first one when a list is configured); sent only to --url's own origin.")
@click.option("--wait/--no-wait", default=False, help="Wait for the job to finish, showing progress.")
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Where to save the result (implies --wait); default: the job's filename (a ZIP for several).")
@click.option("--timeout", type=float, default=900, show_default=True, help="Seconds to wait at most.")
def submit(file: Path, url: str, service: str | None, api_key: str | None, wait: bool, output: Path | None,
           timeout: float) -> None:
    """Submit FILE (YAML or JSON) as a job; print the job; with --wait, save the result file."""
    with client_for(url, api_key) as client:
        try:
            job = client.submit_file(file, service=service)
            console.print(f"job [bold]{job.job_id}[/bold] {job.status.value}")
            if not (wait or output):
                click.echo(json.dumps(job.model_dump(mode="json"), indent=2))
                return
            job = wait_with_progress(client, job, timeout)
            if job.status.value != "done":
                raise click.ClickException(f"Job {job.job_id} ended in {job.status.value}: {job.error_msg}")
            saved = client.download(job.job_id, output)
        except PayloadError as exc:
            raise click.ClickException(f"{file}: {exc.message}") from exc
        except ClientError as exc:
            raise click.ClickException(exc.message) from exc
    console.print(f"[green]done[/green]: saved {saved} ({saved.stat().st_size} bytes)")
