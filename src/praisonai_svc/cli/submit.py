"""``submit``: send a YAML/JSON job, optionally wait with a progress bar and save the result.

All HTTP goes through :class:`praisonai_svc.client.Client` (credentials only to the service's own origin,
signed links fetched without them, 429/503 retried as Retry-After says); this module only talks to the user.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from praisonai_svc.client import Client, ClientError, Job, WaitTimeout
from praisonai_svc.client.common import Credentials
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


def _check(response: httpx.Response) -> Any:
    """The JSON of a successful answer, else a ClickException with the service's detail (for CLI commands that
    still drive httpx themselves; new ones use :class:`praisonai_svc.client.Client`)."""
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise click.ClickException(f"HTTP {response.status_code}: {detail}")
    return response.json()


def _request(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request, waiting out 429/503 answers as their Retry-After says (up to 5 times)."""
    for _ in range(5):
        response = client.request(method, url, **kwargs)
        if response.status_code not in (429, 503):
            return response
        time.sleep(float(response.headers.get("retry-after", "2")))
    return response


class KeyForOrigin(httpx.Auth):
    """``X-API-Key`` on requests to the service's own origin only (scheme, host and port), whatever URL a response
    names. The rule lives in :class:`praisonai_svc.client.common.Credentials`, which the client applies to every
    request; this adapter offers it to code that drives httpx itself."""

    def __init__(self, api_key: str, service_url: str) -> None:
        self.credentials = Credentials(service_url, api_key=api_key)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.credentials.headers_for(str(request.url)))
        yield request


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", envvar="PRAISONAI_URL", default="http://127.0.0.1:8080", show_default=True,
              show_envvar=True, help="Base URL of the service.")
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
    key = api_key.split(",")[0].strip() if api_key else None
    with Client(url, api_key=key or None) as client:
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
