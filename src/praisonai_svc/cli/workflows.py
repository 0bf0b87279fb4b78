"""``workflows``: list, show, create (from YAML or JSON), trigger (optionally waiting), list executions."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from praisonai_svc.cli.remote import URL_OPTION, call
from praisonai_svc.errors import PayloadError
from praisonai_svc.safe_parse import parse_json, parse_yaml

console = Console(stderr=True)
FINISHED = {"completed", "failed", "cancelled", "timeout"}


URL = URL_OPTION
API_KEY = click.option("--api-key", envvar="PRAISONAI_API_KEY", show_envvar=True, default=None,
                       help="API key (first one when a list is configured); sent to --url's origin only.")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print the JSON the service answered.")


def _call(url: str, api_key: str | None, method: str, path: str, **kwargs: Any) -> Any:
    return call(url, method, path, api_key=api_key, **kwargs)


@click.group()
def workflows() -> None:
    """Workflows: steps that chain this app's services, run by hand, by cron or by file events."""


@workflows.command("list")
@URL
@API_KEY
@AS_JSON
@click.option("--status", type=click.Choice(["active", "inactive", "paused"]), default=None)
def list_workflows(url: str, api_key: str | None, as_json: bool, status: str | None) -> None:
    """List workflows."""
    page = _call(url, api_key, "GET", "/workflows", params={"limit": 500, **({"status": status} if status else {})})
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    table = Table("id", "name", "status", "enabled", "triggers", "runs (ok/failed)", "last run")
    for wf in page["workflows"]:
        stats = wf["execution_stats"]
        triggers = ", ".join(t["type"] + (f" {t['expression']}" if t.get("expression") else "") for t in wf["triggers"])
        table.add_row(wf["id"], wf["name"], wf["status"], "yes" if wf["is_enabled"] else "no", triggers or "manual",
                      f"{stats['total']} ({stats['successful']}/{stats['failed']})", wf["last_execution_at"] or "-")
    Console().print(table)
    console.print(f"{page['total']} workflow(s)")


@workflows.command()
@click.argument("workflow_id")
@URL
@API_KEY
def show(workflow_id: str, url: str, api_key: str | None) -> None:
    """Print a workflow as JSON."""
    click.echo(json.dumps(_call(url, api_key, "GET", f"/workflows/{workflow_id}"), indent=2))


def read_definition(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        return parse_yaml(text) if path.suffix.lower() in (".yaml", ".yml") else parse_json(text)
    except PayloadError as exc:
        raise click.ClickException(f"{path}: {exc.message}") from exc


@workflows.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@URL
@API_KEY
def create(file: Path, url: str, api_key: str | None) -> None:
    """Create a workflow from FILE (YAML or JSON); print it."""
    workflow = _call(url, api_key, "POST", "/workflows", json=read_definition(file))
    console.print(f"workflow [bold]{workflow['id']}[/bold] created")
    click.echo(json.dumps(workflow, indent=2))


@workflows.command()
@click.argument("workflow_id")
@URL
@API_KEY
@click.option("--data", "data", default=None, help="trigger_data as a JSON object.")
@click.option("--wait/--no-wait", default=False, help="Wait for the execution to finish.")
@click.option("--timeout", type=float, default=900, show_default=True, help="Seconds to wait at most.")
def trigger(workflow_id: str, url: str, api_key: str | None, data: str | None, wait: bool, timeout: float) -> None:
    """Run a workflow now; with --wait, until its execution finishes (exit 1 unless it completed)."""
    try:
        trigger_data = json.loads(data) if data else {}
    except ValueError as exc:
        raise click.ClickException(f"--data is not JSON: {exc}") from exc
    execution = _call(url, api_key, "POST", f"/workflows/{workflow_id}/trigger", json={"trigger_data": trigger_data})
    console.print(f"execution [bold]{execution['id']}[/bold] {execution['status']}")
    if wait:
        execution = _wait(url, api_key, execution, timeout)
    click.echo(json.dumps(execution, indent=2))
    if wait and execution["status"] != "completed":
        raise click.ClickException(f"Execution {execution['id']} ended {execution['status']}: "
                                   f"{execution.get('error_message')}")


def _wait(url: str, api_key: str | None, execution: dict[str, Any], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    shown = None
    while execution["status"] not in FINISHED:
        if time.monotonic() > deadline:
            raise click.ClickException(f"Gave up after {timeout:g}s; execution {execution['id']} is "
                                       f"{execution['status']}.")
        time.sleep(0.5)
        execution = _call(url, api_key, "GET", f"/executions/{execution['id']}")
        if execution.get("current_step") != shown:
            shown = execution.get("current_step")
            console.print(f"  {execution['status']}: step {shown or '-'}")
    return execution


@workflows.command()
@click.argument("workflow_id")
@URL
@API_KEY
@AS_JSON
@click.option("--status", default=None, help="Only executions in this status.")
@click.option("--limit", type=int, default=20, show_default=True)
def executions(workflow_id: str, url: str, api_key: str | None, as_json: bool, status: str | None,
               limit: int) -> None:
    """A workflow's executions, newest first."""
    params: dict[str, Any] = {"limit": limit, **({"status": status} if status else {})}
    page = _call(url, api_key, "GET", f"/workflows/{workflow_id}/executions", params=params)
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    table = Table("id", "status", "trigger", "created", "ms", "error")
    for ex in page["executions"]:
        table.add_row(ex["id"], ex["status"], ex["trigger_type"], ex["created_at"],
                      str(ex["execution_time_ms"] or "-"), (ex["error_message"] or "")[:60])
    Console().print(table)
    console.print(f"{page['total']} execution(s)")
