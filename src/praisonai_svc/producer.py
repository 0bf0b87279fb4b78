"""Submitting jobs from Python code that runs beside the service (``app.submit`` and friends).

Like Celery's ``task.delay()``: code in another process (a script, a web app, a cron job) loads the same app and
shares its backend (the same PRAISONAI_DATA_DIR or Azure connection string). Submissions go through
:class:`~praisonai_svc.job_service.JobService`, exactly as ``POST /jobs`` does: the same payload validation and
size limit, the same idempotency (an identical payload sent over HTTP and from Python is one job) and the same
tenant scoping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from praisonai_svc.errors import ConfigError, PayloadError, PayloadTooLarge, PraisonSvcError
from praisonai_svc.hashing import canonical_json
from praisonai_svc.job_service import JobService, Submission
from praisonai_svc.models.job import JobRequest

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp

__all__ = ["Producer", "SubmitItem", "run_sync"]

SubmitItem = dict[str, Any] | JobRequest  # a payload, or a request naming its service


class Producer:
    """Opens the app's backend on first use (unless the app was given one) and submits through JobService."""

    def __init__(self, app: ServiceApp) -> None:
        self.app = app
        self._service: JobService | None = None

    async def _job_service(self) -> JobService:
        if self._service is None:
            backend = self.app.backend
            if backend is None:
                from praisonai_svc.backend import open_backend

                backend = await open_backend(self.app.settings)
                self.app.backend = backend
            self._service = JobService(self.app, backend)
        return self._service

    def request(self, item: SubmitItem, service: str | None) -> JobRequest:
        """The JobRequest for ``item``, checked like an HTTP body (size limit, service names agree)."""
        return self.checked(item, service)[0]

    def checked(self, item: SubmitItem, service: str | None) -> tuple[JobRequest, str]:
        """:meth:`request`, and the canonical JSON of its payload that the size check made (hashed as it is, so
        that the payload is encoded once)."""
        request = item if isinstance(item, JobRequest) else JobRequest(payload=_payload(item), service=service)
        if service is not None and request.service not in (None, service):
            raise PayloadError("The service named in the call and in the request differ.")
        if request.service is None and service is not None:
            request = request.model_copy(update={"service": service})
        limit = self.app.settings.max_payload_size
        canonical = canonical_json(request.payload)
        # Its UTF-8 length, counted only when it could matter (a character is one to four bytes).
        if len(canonical) > limit or (len(canonical) * 4 > limit and len(canonical.encode()) > limit):
            raise PayloadTooLarge(f"The payload is larger than {limit} bytes (PRAISONAI_MAX_PAYLOAD_SIZE).")
        return request, canonical

    async def submit(self, payload: SubmitItem, *, service: str | None = None, tenant: str | None = None
                     ) -> Submission:
        job_service = await self._job_service()
        request, canonical = self.checked(payload, service)
        return await job_service.submit(request, tenant=tenant, canonical=canonical)

    async def submit_many(self, items: Sequence[SubmitItem], *, service: str | None = None,
                          tenant: str | None = None) -> list[Submission | PraisonSvcError]:
        if len(items) > self.app.settings.max_batch_size * 100:
            raise PayloadError(f"{len(items)} jobs in one call; send at most "
                               f"{self.app.settings.max_batch_size * 100} at a time.")
        job_service = await self._job_service()
        requests: list[JobRequest | PraisonSvcError] = []
        canonicals: list[str | None] = []
        for item in items:
            try:
                request, canonical = self.checked(item, service)
            except PraisonSvcError as exc:
                requests.append(exc)
                canonicals.append(None)
                continue
            requests.append(request)
            canonicals.append(canonical)
        return await job_service.submit_many(requests, tenant=tenant, canonicals=canonicals)


def _payload(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise PayloadError(f"A payload must be a dict, not {type(item).__name__}.")
    return item


def run_sync(app: ServiceApp, call: str, *args: Any, **kwargs: Any) -> Any:
    """Run ``app.<call>`` to completion from synchronous code, on a backend opened and closed for the call
    (storage clients belong to the event loop that opened them)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise ConfigError(f"app.{call}_sync() was called inside a running event loop; use `await app.{call}(...)`.")

    async def once() -> Any:
        own = app.backend is None
        try:
            return await getattr(app, call)(*args, **kwargs)
        finally:
            if own and app.backend is not None:
                await app.backend.close()
                app.backend = None
                app._producer = None

    return asyncio.run(once())
