"""``files``: upload a document (with progress), list files, show one, print its extracted content."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn, TransferSpeedColumn
from rich.table import Table

from praisonai_svc.cli.remote import URL_OPTION, client_for
from praisonai_svc.client import Client, ClientError

console = Console(stderr=True)
FINISHED = {"processed", "failed", "deleted"}


URL = URL_OPTION
API_KEY = click.option("--api-key", envvar="PRAISONAI_API_KEY", show_envvar=True, default=None,
                       help="API key (first one when a list is configured); sent to --url's origin only.")


@click.group()
def files() -> None:
    """Upload documents and read what was extracted from them (PDF, DOCX, XLSX, CSV, TXT)."""


@files.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@URL
@API_KEY
@click.option("--wait/--no-wait", default=False, help="Wait for extraction, then print the extracted text.")
@click.option("--process/--no-process", default=True, show_default=True, help="Queue extraction at once.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the file record, or with --wait the extract).")
@click.option("--timeout", type=float, default=900, show_default=True, help="Seconds to wait at most.")
def upload(path: Path, url: str, api_key: str | None, wait: bool, process: bool, as_json: bool,
           timeout: float) -> None:
    """Upload PATH; with --wait, print its extracted text (or --json the whole extract)."""
    with client_for(url, api_key) as client:
        try:
            file = _upload(client, path, process)
            console.print(f"file [bold]{file['id']}[/bold] {file['status']} ({file['file_size']} bytes)")
            if not wait:
                click.echo(json.dumps(file, indent=2))
                return
            file = _wait(client, file, timeout)
            if file["status"] != "processed":
                raise click.ClickException(f"File {file['id']} {file['status']}: {file.get('error_message')}")
            _print_extract(client.file_extract(file["id"]), as_json)
        except ClientError as exc:
            raise click.ClickException(exc.message) from exc


def _upload(client: Client, path: Path, process: bool) -> dict[str, Any]:
    columns = (TextColumn("[bold]uploading"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("upload", total=path.stat().st_size)
        return client.upload_file(path, process=process, on_progress=lambda n: progress.advance(task, n))


def _wait(client: Client, file: dict[str, Any], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), console=console, transient=True) as bar:
        task = bar.add_task(file["status"])
        while file["status"] not in FINISHED:
            if time.monotonic() > deadline:
                raise click.ClickException(f"Gave up waiting after {timeout:g}s; file {file['id']} is "
                                           f"{file['status']}.")
            time.sleep(0.5)
            file = client.get_file(file["id"])
            bar.update(task, description=file["status"])
    return file


def _reported(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``call()``, a client error shown as the service worded it."""
    try:
        return call()
    except ClientError as exc:
        raise click.ClickException(exc.message) from exc


def _print_extract(extract: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(extract, indent=2, ensure_ascii=False))
        return
    metadata = {k: v for k, v in extract.get("metadata", {}).items() if k not in ("rows", "sheets")}
    console.print(f"[green]{extract['status']}[/green]: {len(extract['content'])} characters; "
                  + ", ".join(f"{k}={v}" for k, v in metadata.items() if v not in (None, "", [])))
    click.echo(extract["content"])


@files.command(name="list")
@URL
@API_KEY
@click.option("--status", default=None, help="Only files in this status (uploaded, processing, processed, failed, "
                                             "deleted).")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--skip", type=int, default=0, show_default=True)
def list_files(url: str, api_key: str | None, status: str | None, limit: int, skip: int) -> None:
    """List files, newest first."""
    with client_for(url, api_key) as client:
        page = _reported(lambda: client.list_files(status=status, limit=limit, skip=skip))
    table = Table("id", "name", "status", "bytes", "created", title=f"{page['total']} file(s)")
    for file in page["files"]:
        table.add_row(file["id"], file["original_filename"], file["status"], str(file["file_size"]),
                      file["created_at"])
    Console().print(table)


@files.command()
@click.argument("file_id")
@URL
@API_KEY
def show(file_id: str, url: str, api_key: str | None) -> None:
    """Print one file's record as JSON."""
    with client_for(url, api_key) as client:
        click.echo(json.dumps(_reported(lambda: client.get_file(file_id)), indent=2))


@files.command()
@click.argument("file_id")
@URL
@API_KEY
@click.option("--json", "as_json", is_flag=True, help="Print the whole extract (content, metadata) as JSON.")
def extract(file_id: str, url: str, api_key: str | None, as_json: bool) -> None:
    """Print a processed file's extracted text (a summary line goes to stderr)."""
    with client_for(url, api_key) as client:
        _print_extract(_reported(lambda: client.file_extract(file_id)), as_json)
