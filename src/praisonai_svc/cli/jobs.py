"""``jobs``: look at and control jobs of a running service (``jobs cancel ID``, ``jobs show ID``)."""

from __future__ import annotations

import json

import click
import httpx

from praisonai_svc.cli.submit import _check, _request, console


def _client(url: str, api_key: str | None) -> httpx.Client:
    headers = {"X-API-Key": api_key.split(",")[0].strip()} if api_key else {}
    return httpx.Client(base_url=url, headers=headers, timeout=30)


def _connection(func: click.decorators.FC) -> click.decorators.FC:
    func = click.option("--api-key", envvar="PRAISONAI_API_KEY", show_envvar=True, default=None,
                        help="API key (first one when a list is configured).")(func)
    return click.option("--url", envvar="PRAISONAI_URL", default="http://127.0.0.1:8080", show_default=True,
                        show_envvar=True, help="Base URL of the service.")(func)


@click.group()
def jobs() -> None:
    """Look at and control the jobs of a running service."""


@jobs.command()
@click.argument("job_id")
@_connection
def cancel(job_id: str, url: str, api_key: str | None) -> None:
    """Cancel JOB_ID: a queued job at once, a running one within seconds; a finished one cannot be."""
    with _client(url, api_key) as client:
        try:
            job = _check(_request(client, "POST", f"/jobs/{job_id}/cancel"))
        except httpx.HTTPError as exc:
            raise click.ClickException(f"Cannot reach {url}: {exc}. Is the service running?") from exc
    state = job["status"] if job["status"] == "cancelled" else "cancel requested (it stops within seconds)"
    console.print(f"job [bold]{job_id}[/bold]: {state}")
    click.echo(json.dumps(job, indent=2))


@jobs.command()
@click.argument("job_id")
@_connection
def show(job_id: str, url: str, api_key: str | None) -> None:
    """Print JOB_ID as the API returns it."""
    with _client(url, api_key) as client:
        try:
            click.echo(json.dumps(_check(_request(client, "GET", f"/jobs/{job_id}")), indent=2))
        except httpx.HTTPError as exc:
            raise click.ClickException(f"Cannot reach {url}: {exc}. Is the service running?") from exc
