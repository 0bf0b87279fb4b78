"""``AsyncClient``: the service's HTTP API from asyncio code (same methods as :class:`~praisonai_svc.client.Client`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from praisonai_svc.client.common import (
    BATCH_SIZE,
    TERMINAL,
    UPLOAD_TIMEOUT,
    Credentials,
    RetryPolicy,
    batch_bodies,
    checked,
    document_body,
    event_update,
    file_record,
    guess_type,
    is_zip,
    merged_batches,
    plugin_data,
    plugin_path,
    submit_body,
    target_path,
)
from praisonai_svc.client.errors import ConnectionFailed, NotFound, WaitTimeout
from praisonai_svc.client.models import BatchResponse, Job, JobPage, UsageReport

OnUpdate = Callable[[Job], None]
POLL_SECONDS = 0.5


class AsyncPlugins:
    """``client.plugins.call("image/resize", {...})``: the plugins' ``/api/v1/<category>/<action>`` routes."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def call(self, name: str, input: dict[str, Any], *, mode: str | None = None) -> dict[str, Any]:
        """Run plugin ``name`` (``category/action``) on ``input``; the ``data`` of its answer."""
        params = {"mode": mode} if mode else None
        return plugin_data((await self._client.request("POST", plugin_path(name), json=input, params=params)).json())


class AsyncClient:
    """The asyncio twin of :class:`~praisonai_svc.client.Client` (same behaviour, awaitable methods).

    ``api_key`` (or ``token``) is sent only to ``base_url``'s own origin; signed download links are fetched
    without credentials. 429 and 503 answers are retried as Retry-After says (see :class:`RetryPolicy`).
    """

    def __init__(
        self, base_url: str, *, api_key: str | None = None, token: str | None = None,
        admin_key: str | None = None, timeout: float = 30.0,
        retry: RetryPolicy | None = None, transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = Credentials(self.base_url, api_key, token, admin_key)
        self.retry = retry or RetryPolicy()
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)
        self._public = httpx.AsyncClient(timeout=timeout, follow_redirects=True)  # signed links: no credentials
        self.plugins = AsyncPlugins(self)

    # --- plumbing ----------------------------------------------------------------------------------------
    async def close(self) -> None:
        await self._http.aclose()
        await self._public.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def _send(self, method: str, path: str, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), **self.credentials.headers_for(path)}
        attempt = 0
        while True:
            request = self._http.build_request(method, path, headers=headers, **kwargs)
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                raise ConnectionFailed(f"Cannot reach {self.base_url}: {exc}. Is the service running?") from exc
            delay = self.retry.delay(response, attempt)
            if delay is None:
                return response
            await response.aclose()
            await asyncio.sleep(delay)
            attempt += 1

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One API request with credentials and retries; a :class:`ClientError` for an error answer."""
        return checked(await self._send(method, path, **kwargs))

    @asynccontextmanager
    async def _stream(self, method: str, path: str, **kwargs: Any) -> AsyncIterator[httpx.Response]:
        response = await self._send(method, path, stream=True, **kwargs)
        try:
            if response.status_code >= 400:
                await response.aread()
            yield checked(response)
        finally:
            await response.aclose()

    # --- jobs --------------------------------------------------------------------------------------------
    async def submit(self, payload: dict[str, Any], *, service: str | None = None, wait: bool = False,
               timeout: float = 900.0) -> Job:
        """Queue a job (an identical live job is returned instead); with ``wait``, return it finished."""
        job = Job.model_validate((await self.request("POST", "/jobs", json=submit_body(payload, service))).json())
        return await self.wait(job.job_id, timeout) if wait else job

    async def submit_many(self, payloads: Iterable[dict[str, Any]], *, service: str | None = None,
                          batch_size: int = BATCH_SIZE) -> BatchResponse:
        """Queue many jobs with ``POST /jobs/batch`` (``batch_size`` per request): one result per payload, in
        order (``status`` 202 queued, 200 an identical job already there, else the item's own error and
        ``detail``); a bad item never sinks the others. Raises only for an error of a whole request."""
        items = list(payloads)
        answers = [(await self.request("POST", "/jobs/batch", json=body)).json()
                   for body in batch_bodies(items, service, batch_size)]
        return merged_batches(answers, batch_size)

    async def submit_file(self, path: Path, *, service: str | None = None) -> Job:
        """Queue the job in a JSON or YAML file (sent as YAML when it is YAML)."""
        body, content_type = await asyncio.to_thread(document_body, path)
        params = {"service": service} if service else None
        response = await self.request("POST", "/jobs", content=body, params=params,
                                   headers={"Content-Type": content_type})
        return Job.model_validate(response.json())

    async def get(self, job_id: str) -> Job:
        return Job.model_validate((await self.request("GET", f"/jobs/{job_id}")).json())

    async def list(self, *, status: str | None = None, service: str | None = None, limit: int = 50,
             cursor: str | None = None) -> JobPage:
        params = {k: v for k, v in (("status", status), ("service", service), ("cursor", cursor)) if v}
        answer = await self.request("GET", "/jobs", params={**params, "limit": limit})
        return JobPage.model_validate(answer.json())

    async def cancel(self, job_id: str) -> Job:
        """Cancel a queued or running job (needs a service version with cancellation; NotFound otherwise)."""
        return Job.model_validate((await self.request("POST", f"/jobs/{job_id}/cancel")).json())

    async def wait(self, job_id: str, timeout: float = 900.0, *, on_update: OnUpdate | None = None) -> Job:
        """The job once it is done, error or cancelled: follows its event stream when the service has one,
        else polls. Raises :class:`WaitTimeout` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        job = await self.get(job_id)
        if job.status.value not in TERMINAL:
            job = await self._follow_events(job, deadline, on_update)
        while job.status.value not in TERMINAL:
            if time.monotonic() > deadline:
                raise WaitTimeout(f"Job {job_id} is still {job.status.value} after {timeout:g}s.")
            await asyncio.sleep(POLL_SECONDS)
            job = await self.get(job_id)
            if on_update is not None:
                on_update(job)
        return job

    async def _follow_events(self, job: Job, deadline: float, on_update: OnUpdate | None) -> Job:
        """Follow ``GET /jobs/{id}/events`` (SSE), updating the job from each event, until its terminal event; the
        job as last known (the caller polls on) if the service has no event stream or the stream ends early."""
        try:
            async with self._stream("GET", f"/jobs/{job.job_id}/events", headers={"Accept": "text/event-stream"},
                              timeout=httpx.Timeout(10.0, read=max(deadline - time.monotonic(), 1.0))) as events:
                async for line in events.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    job, ended = event_update(job, line[5:])
                    if on_update is not None:
                        on_update(job)
                    if ended or time.monotonic() > deadline:
                        break
            if job.status.value in TERMINAL:
                job = await self.get(job.job_id)  # the whole final body (outputs, download_url)
        except (NotFound, httpx.HTTPError):
            pass  # no event stream here (or it broke): polling takes over
        return job

    # --- outputs -----------------------------------------------------------------------------------------
    async def download(self, job_id: str, path: Path | str | None = None) -> Path:
        """Save the job's output (a multi-file job's ZIP) to ``path`` (a file, or a directory to put it in)."""
        async with self._stream("GET", f"/jobs/{job_id}/download", params={"format": "json"}) as answer:
            if is_zip(answer):
                return await self._save(answer, target_path(path, f"{job_id}.zip"))
            await answer.aread()
            link = answer.json()
        into_directory = path is None or await asyncio.to_thread(Path(path).is_dir)
        name = (await self.get(job_id)).filename or f"{job_id}.bin" if into_directory else f"{job_id}.bin"
        return await self._fetch_signed(link["download_url"], target_path(path, name))

    async def download_output(self, job_id: str, name: str, path: Path | str | None = None) -> Path:
        """Save one output file of the job (``Job.outputs[i].filename``)."""
        answer = await self.request("GET", f"/jobs/{job_id}/outputs/{name}/download", params={"format": "json"})
        link = answer.json()
        return await self._fetch_signed(link["download_url"], target_path(path, name))

    async def _fetch_signed(self, url: str, target: Path) -> Path:
        async with self._public.stream("GET", url) as response:  # a signed link carries its own authorisation
            if response.status_code >= 400:
                await response.aread()
            return await self._save(checked(response), target)

    @staticmethod
    async def _save(response: httpx.Response, target: Path) -> Path:
        partial = target.with_name(target.name + ".part")
        handle = await asyncio.to_thread(partial.open, "wb")
        try:
            async for chunk in response.aiter_bytes(1024 * 1024):
                await asyncio.to_thread(handle.write, chunk)
        finally:
            await asyncio.to_thread(handle.close)
        await asyncio.to_thread(partial.replace, target)
        return target

    # --- files and usage ---------------------------------------------------------------------------------
    async def upload_file(self, path: Path | str, *, content_type: str | None = None,
                          process: bool = True) -> dict[str, Any]:
        """Upload a file to the files feature (``POST /files/upload``, multipart field ``file``) and return its
        record (``id``, ``status``, ...). The file is read in a thread first (whole): for very large files from
        asyncio code, run :meth:`Client.upload_file` (streamed) in a thread instead."""
        source = Path(path)
        data = await asyncio.to_thread(source.read_bytes)
        files = {"file": (source.name, data, content_type or guess_type(source))}
        answer = (await self.request("POST", "/files/upload", files=files, params={"process": str(process).lower()},
                                     timeout=UPLOAD_TIMEOUT)).json()
        return file_record(answer)

    async def get_file(self, file_id: str) -> dict[str, Any]:
        """A file's record (``GET /files/{id}``)."""
        return file_record((await self.request("GET", f"/files/{file_id}")).json())

    async def list_files(self, *, status: str | None = None, limit: int = 50, skip: int = 0) -> dict[str, Any]:
        """A page of files, newest first (``GET /files``): ``{"files": [...], "total": N, ...}``."""
        params: dict[str, Any] = {"limit": limit, "skip": skip, **({"status": status} if status else {})}
        page: dict[str, Any] = (await self.request("GET", "/files", params=params)).json()
        return page

    async def file_extract(self, file_id: str) -> dict[str, Any]:
        """What was extracted from a processed file (``GET /files/{id}/extract``: content, metadata)."""
        extract: dict[str, Any] = (await self.request("GET", f"/files/{file_id}/extract")).json()
        return extract

    async def usage(self, *, start: str | None = None, end: str | None = None, tenant: str | None = None,
              service: str | None = None, granularity: str = "day") -> UsageReport:
        """Usage per tenant and service (a tenant's key sees only its own)."""
        params = {k: v for k, v in (("from", start), ("to", end), ("tenant", tenant), ("service", service)) if v}
        answer = await self.request("GET", "/usage", params={**params, "granularity": granularity})
        return UsageReport.model_validate(answer.json())
