"""``submit``: send a YAML/JSON job, optionally wait with a progress bar and save the result."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from praisonai_svc.errors import PayloadError
from praisonai_svc.safe_parse import parse_json, parse_yaml

console = Console(stderr=True)
TERMINAL = {"done", "error", "cancelled"}


def build_request(path: Path) -> tuple[bytes, str]:
    """The body to send: the file as-is when it has a top-level ``payload``, else wrapped in one."""
    text = path.read_text(encoding="utf-8")
    is_yaml = path.suffix.lower() in (".yaml", ".yml")
    try:
        document = parse_yaml(text) if is_yaml else parse_json(text)
    except PayloadError as exc:
        raise click.ClickException(f"{path}: {exc.message}") from exc
    if isinstance(document, dict) and "payload" in document:
        return text.encode(), "application/yaml" if is_yaml else "application/json"
    return json.dumps({"payload": document}).encode(), "application/json"


def _check(response: httpx.Response) -> Any:
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


def wait_for(client: httpx.Client, job: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Follow the job to its end with a progress bar: its event stream, or polling if the server has none."""
    deadline = time.monotonic() + timeout
    columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[msg]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(job["status"], total=1.0, msg="")

        def show(status: str, fraction: float | None, message: str | None) -> None:
            bar.update(task, description=status, msg=message or "")
            if fraction is not None:
                bar.update(task, completed=fraction)

        # If the stream breaks or is not offered, the job's own status (polled below) is the truth either way.
        with contextlib.suppress(httpx.HTTPError, StreamUnavailable):
            follow_events(client, job["job_id"], show, deadline)
        job = _check(_request(client, "GET", f"/jobs/{job['job_id']}"))
        while job["status"] not in TERMINAL:
            if time.monotonic() > deadline:
                raise click.ClickException(f"Gave up waiting after {timeout:g}s; job {job['job_id']} is "
                                           f"{job['status']}.")
            job = _check(_request(client, "GET", f"/jobs/{job['job_id']}", params={"wait": 10}))
            show(job["status"], job.get("progress"), job.get("progress_msg"))
    return job


class StreamUnavailable(Exception):
    """The server has no event stream for this job (an older version): poll instead."""


def follow_events(client: httpx.Client, job_id: str, show: Any, deadline: float) -> None:
    """Read ``GET /jobs/{id}/events`` until its terminal event, calling ``show(status, fraction, message)``."""
    last = 0
    while time.monotonic() < deadline:
        headers = {"Last-Event-ID": str(last)} if last else {}
        with client.stream("GET", f"/jobs/{job_id}/events", headers=headers,
                           timeout=httpx.Timeout(30, read=60)) as response:
            if response.status_code != 200:
                raise StreamUnavailable(response.status_code)
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                last = int(event["seq"])
                show(event["status"], event.get("progress"), event.get("message") or event.get("error_msg"))
                if event["type"] in TERMINAL:
                    return
                if time.monotonic() > deadline:
                    return


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in: what decides where a credential may go."""
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme.lower(), url.host.lower(), url.port or default


class KeyForOrigin(httpx.Auth):
    """Adds ``X-API-Key`` to requests for the service's own origin only (scheme, host and port), whatever URL a
    response names: a download link may point at a storage account, a CDN or, with a forged public URL, anyone."""

    def __init__(self, api_key: str, service_url: str) -> None:
        self.api_key = api_key
        self.origin = origin(httpx.URL(service_url))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if origin(request.url) == self.origin:
            request.headers["X-API-Key"] = self.api_key
        yield request


def fetch_signed(url: str) -> httpx.Response:
    """GET a signed download link without any credential: the signature is its authorisation. Redirects are
    followed (a storage service may redirect), also without credentials."""
    with httpx.Client(timeout=120, follow_redirects=True) as anonymous:
        return anonymous.get(url)


def download(client: httpx.Client, job: dict[str, Any], output: Path | None) -> Path:
    link = _check(_request(client, "GET", f"/jobs/{job['job_id']}/download", params={"format": "json"}))
    response = fetch_signed(link["download_url"])
    if response.status_code != 200:
        raise click.ClickException(f"Download failed: HTTP {response.status_code}")
    target = output or Path(job.get("filename") or f"{job['job_id']}.bin")
    if target.is_dir():
        target = target / (job.get("filename") or f"{job['job_id']}.bin")
    target.write_bytes(response.content)
    return target


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", envvar="PRAISONAI_URL", default="http://127.0.0.1:8080", show_default=True,
              show_envvar=True, help="Base URL of the service.")
@click.option("--service", default=None, help="Service to run (default: the app's first).")
@click.option("--api-key", envvar="PRAISONAI_API_KEY", show_envvar=True, default=None,
              help="API key (first one when a list is configured).")
@click.option("--wait/--no-wait", default=False, help="Wait for the job to finish, showing progress.")
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Where to save the result (implies --wait); default: the job's filename.")
@click.option("--timeout", type=float, default=900, show_default=True, help="Seconds to wait at most.")
def submit(file: Path, url: str, service: str | None, api_key: str | None, wait: bool, output: Path | None,
           timeout: float) -> None:
    """Submit FILE (YAML or JSON) as a job; print the job; with --wait, save the result file."""
    body, content_type = build_request(file)
    headers = {"Content-Type": content_type}
    auth = KeyForOrigin(api_key.split(",")[0].strip(), url) if api_key else None
    params = {"service": service} if service else None
    with httpx.Client(base_url=url, headers=headers, auth=auth, timeout=30) as client:
        try:
            job = _check(_request(client, "POST", "/jobs", content=body, params=params))
        except httpx.HTTPError as exc:
            raise click.ClickException(f"Cannot reach {url}: {exc}. Is the service running?") from exc
        console.print(f"job [bold]{job['job_id']}[/bold] {job['status']}")
        if not (wait or output):
            click.echo(json.dumps(job, indent=2))
            return
        job = wait_for(client, job, timeout)
        if job["status"] != "done":
            raise click.ClickException(f"Job {job['job_id']} ended in {job['status']}: {job.get('error_msg')}")
        saved = download(client, job, output)
    console.print(f"[green]done[/green]: saved {saved} ({saved.stat().st_size} bytes)")
