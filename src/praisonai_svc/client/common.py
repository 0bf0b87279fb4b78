"""What the sync and async clients share: origins, credentials, retry decisions, request shapes."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx

from praisonai_svc.client.errors import RateLimited, ServiceUnavailable, error_for, retry_after
from praisonai_svc.models.batch import BatchResponse
from praisonai_svc.models.job import JobStatus

RETRY_STATUSES = frozenset({429, 503})
TERMINAL = frozenset({"done", "error", "cancelled"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of ``url``, the default port filled in: what "the same origin" compares."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme, 0)


class Credentials:
    """The API key, bearer token or admin key, and the one origin they may be sent to."""

    def __init__(self, base_url: str, api_key: str | None = None, token: str | None = None,
                 admin_key: str | None = None) -> None:
        self.base_url = base_url
        self._origin = origin(base_url)
        headers = {"X-Admin-Key": admin_key} if admin_key else {}  # operators' admin routes, everyone's usage
        if api_key:
            headers["X-API-Key"] = api_key
        elif token:
            headers["Authorization"] = f"Bearer {token}"
        self._headers = headers

    def headers_for(self, url: str) -> dict[str, str]:
        """The credential headers for a request to ``url``: none unless it is the service's own origin, so a
        signed link (blob storage, a CDN, another host) never sees the key. A relative path is the service's."""
        if "://" in url and origin(url) != self._origin:
            return {}
        return self._headers


@dataclass(frozen=True)
class RetryPolicy:
    """Retry 429 and 503 answers up to ``attempts`` times, waiting what Retry-After says; a wait longer than
    ``max_wait`` (a daily quota) is not waited out but raised at once."""

    attempts: int = 5
    max_wait: float = 60.0

    def delay(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before trying again, or None to give up and raise."""
        if response.status_code not in RETRY_STATUSES or attempt + 1 >= self.attempts:
            return None
        wait = retry_after(response, default=min(2.0**attempt, self.max_wait))
        return None if wait > self.max_wait else wait


def event_update(job: Any, data: str) -> tuple[Any, bool]:
    """``job`` (a :class:`Job`) with the status, progress and message of one SSE event's JSON ``data``, and whether
    the event is terminal. Data the client does not understand leaves the job as it is."""
    try:
        event = json.loads(data)
        status = JobStatus(event.get("status", job.status.value))
    except (ValueError, AttributeError):
        return job, False
    message = event.get("message") or event.get("error_msg")
    updated = job.model_copy(update={
        "status": status, "progress": event.get("progress", job.progress),
        "progress_msg": message if message is not None else job.progress_msg,
    })
    return updated, status.value in TERMINAL or event.get("type") in TERMINAL


def checked(response: httpx.Response) -> httpx.Response:
    """``response`` if it succeeded (2xx or a redirect), else the mapped :class:`ClientError`."""
    if response.status_code >= 400:
        raise error_for(response)
    return response


def submit_body(payload: dict[str, Any], service: str | None) -> dict[str, Any]:
    return {"payload": payload, **({"service": service} if service else {})}


BATCH_SIZE = 500  # items per POST /jobs/batch (the service's default PRAISONAI_MAX_BATCH_SIZE)


def batch_bodies(payloads: list[dict[str, Any]], service: str | None, size: int) -> list[dict[str, Any]]:
    """``POST /jobs/batch`` bodies of at most ``size`` items each, in order."""
    if size < 1:
        raise ValueError("batch_size must be at least 1")
    items = [submit_body(payload, service) for payload in payloads]
    return [{"jobs": items[start:start + size]} for start in range(0, len(items), size)]


def merged_batches(answers: list[dict[str, Any]], size: int) -> BatchResponse:
    """One :class:`BatchResponse` of every chunk's answer, item indexes counted over the whole list."""
    results = []
    for chunk, answer in enumerate(answers):
        for item in BatchResponse.model_validate(answer).results:
            results.append(item.model_copy(update={"index": item.index + chunk * size}))
    return BatchResponse(results=results, queued=sum(r.status == 202 for r in results),
                         existing=sum(r.status == 200 for r in results), failed=sum(r.status >= 400 for r in results))


def document_body(path: Path) -> tuple[bytes, str]:
    """A JSON or YAML job file as the body to send: as-is when it has a top-level ``payload``, else wrapped.

    Parsed with the service's own safe parsers, so a file the service would refuse is refused here first.
    """
    from praisonai_svc.safe_parse import parse_json, parse_yaml

    text = path.read_text(encoding="utf-8")
    is_yaml = path.suffix.lower() in (".yaml", ".yml")
    document = parse_yaml(text) if is_yaml else parse_json(text)
    if isinstance(document, dict) and "payload" in document:
        return text.encode(), "application/yaml" if is_yaml else "application/json"
    return json.dumps({"payload": document}).encode(), "application/json"


def target_path(path: Path | str | None, default_name: str) -> Path:
    """Where a download goes: ``path`` itself, or ``default_name`` inside it when it is a directory."""
    from praisonai_svc.filenames import safe_filename

    name = safe_filename(default_name)
    if path is None:
        return Path(name)
    target = Path(path)
    return target / name if target.is_dir() else target


UPLOAD_TIMEOUT = httpx.Timeout(30.0, write=300.0)  # a large upload may take minutes to send


def guess_type(path: Path) -> str:
    """The media type of ``path`` by its name (the files feature checks the content itself)."""
    import mimetypes

    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def plugin_path(name: str) -> str:
    """The route of plugin ``name`` (``category/action``)."""
    return f"/api/v1/{name.strip('/')}"


def plugin_data(answer: Any) -> dict[str, Any]:
    """The ``data`` of a plugin's answer envelope (the answer itself when it has none)."""
    return answer.get("data", answer) if isinstance(answer, dict) else {"data": answer}


def file_record(answer: Any) -> dict[str, Any]:
    """The file of a ``{"file": {...}}`` answer of the files feature."""
    record: dict[str, Any] = answer["file"] if isinstance(answer, dict) and "file" in answer else answer
    return record


class ProgressReader:
    """A binary file that reports how much of it was read (httpx streams multipart files by reading them)."""

    def __init__(self, handle: IO[bytes], on_progress: Callable[[int], object] | None = None) -> None:
        self.handle = handle
        self.on_progress = on_progress

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        if self.on_progress is not None and data:
            self.on_progress(len(data))
        return data

    def fileno(self) -> int:  # lets httpx learn the size, so the upload has a Content-Length
        return self.handle.fileno()

    def tell(self) -> int:
        return self.handle.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.handle.seek(offset, whence)

    def rewind(self) -> None:
        """Back to the start, for a retried upload."""
        self.handle.seek(0)


def is_zip(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.split(";")[0].strip() == "application/zip"


__all__ = ["Credentials", "RateLimited", "RetryPolicy", "ServiceUnavailable", "checked", "origin"]
