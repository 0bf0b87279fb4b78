"""``jobs``: look at and control jobs of a running service (``jobs cancel ID``, ``jobs show ID``)."""

from __future__ import annotations

import json

import click

from praisonai_svc.cli.remote import URL_OPTION, client_for
from praisonai_svc.cli.submit import console
from praisonai_svc.client import Client, ClientError


def _client(url: str, api_key: str | None) -> Client:
    """The typed client (the key goes only to ``url``'s own origin; 429/503 are waited out)."""
    return client_for(url, api_key)


def _connection(func: click.decorators.FC) -> click.decorators.FC:
    func = click.option("--api-key", envvar="PRAISONAI_API_KEY", show_envvar=True, default=None,
                        help="API key (first one when a list is configured).")(func)
    return URL_OPTION(func)


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
            job = client.cancel(job_id).model_dump(mode="json")
        except ClientError as exc:
            raise click.ClickException(exc.message) from exc
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
            click.echo(json.dumps(client.get(job_id).model_dump(mode="json"), indent=2))
        except ClientError as exc:
            raise click.ClickException(exc.message) from exc
