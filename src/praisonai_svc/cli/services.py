"""``services list | show NAME | start NAME | stop NAME``: the management API from the terminal."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from praisonai_svc.cli.remote import URL_OPTION, call

console = Console()
STATE_STYLE = {"running": "green", "error": "bold red", "stopped": "yellow", "stopping": "yellow",
               "starting": "cyan", "disabled": "dim"}


def _connection(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--admin-key", envvar="PRAISONAI_ADMIN_KEY", show_envvar=True, default=None,
                        help="Admin key for start/stop (sent as X-Admin-Key).")(func)
    func = click.option("--api-key", envvar="PRAISONAI_API_KEY", show_envvar=True, default=None,
                        help="API key for reading (first of a comma-separated list).")(func)
    return URL_OPTION(func)


def _call(method: str, url: str, path: str, api_key: str | None, admin_key: str | None) -> Any:
    return call(url, method, path, api_key=api_key, admin_key=admin_key)


def _styled(state: str | None) -> str:
    state = state or "-"
    style = STATE_STYLE.get(state)
    return f"[{style}]{state}[/{style}]" if style else state


def services_table(services: list[dict[str, Any]]) -> Table:
    table = Table(title="Services", header_style="bold")
    for column in ("name", "kind", "state", "desired", "instances", "queued", "error"):
        table.add_column(column, overflow="fold")
    for item in services:
        running = sum(1 for i in item.get("instances", []) if i.get("state") == "running")
        queued = item.get("queue_depth")
        table.add_row(item["name"], item["kind"] + (f" ({item['runs_on']})" if item.get("runs_on") else ""),
                      _styled(item["state"]), _styled(item["desired_state"]),
                      f"{running}/{len(item.get('instances', []))}", "-" if queued is None else str(queued),
                      (item.get("error") or "")[:80])
    return table


@click.group()
def services() -> None:
    """See, start and stop the app's services on every process (talks to a running API)."""


@services.command("list")
@_connection
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(url: str, api_key: str | None, admin_key: str | None, as_json: bool) -> None:
    """Every service: kind, state, desired state, running instances, queued jobs, last error."""
    body = _call("GET", url, "/services", api_key, admin_key)
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    console.print(services_table(body["services"]))


@services.command("show")
@click.argument("name")
@_connection
def show(name: str, url: str, api_key: str | None, admin_key: str | None) -> None:
    """One service, with each instance that reports it, as JSON."""
    click.echo(json.dumps(_call("GET", url, f"/services/{name}", api_key, admin_key), indent=2))


@services.command("start")
@click.argument("name")
@_connection
def start(name: str, url: str, api_key: str | None, admin_key: str | None) -> None:
    """Start NAME on every process (a job service's queued jobs then run)."""
    body = _call("POST", url, f"/services/{name}/start", api_key, admin_key)
    console.print(f"{body['service']}: {body['status']}")


@services.command("stop")
@click.argument("name")
@_connection
def stop(name: str, url: str, api_key: str | None, admin_key: str | None) -> None:
    """Stop NAME on every process (a job service's new jobs stay queued until it starts again)."""
    body = _call("POST", url, f"/services/{name}/stop", api_key, admin_key)
    console.print(f"{body['service']}: {body['status']}")
