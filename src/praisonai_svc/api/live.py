"""Live job updates and control: ``GET /jobs/{id}/events`` (SSE), ``/jobs/{id}/ws`` (WebSocket), WebSocket
tickets, ``POST /jobs/{id}/cancel`` and ``GET /jobs/{id}/webhooks``. (Long-poll is ``GET /jobs/{id}?wait=``.)

Every route first reads the job as ``GET /jobs/{id}`` does, so another tenant's job is a 404 here too. Streams
are fed by the process's one :class:`~praisonai_svc.events.watcher.EventWatcher` and end after the job's
terminal event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Header, Query, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel
from sse_starlette import EventSourceResponse
from starlette.requests import Request as StarletteRequest

from praisonai_svc.api.auth import PRINCIPAL, guard_for, principal_of, require_access
from praisonai_svc.api.deps import absolute_url, backend, job_body, job_service
from praisonai_svc.api.jobs import GUARDED, _error
from praisonai_svc.api.long_poll import watcher_of
from praisonai_svc.api.openapi_security import GUARDED_EXTRA
from praisonai_svc.api.ws_tickets import TicketInvalid, consume_ticket, mint_ticket
from praisonai_svc.app import ServiceApp
from praisonai_svc.errors import AuthenticationFailed, JobNotFound, PraisonSvcError, RateLimited
from praisonai_svc.events.job_events import JobEvent, implied_events
from praisonai_svc.events.watcher import EventWatcher, Subscription
from praisonai_svc.job_service import JobService
from praisonai_svc.models.job import Job, JobResponse
from praisonai_svc.security.guard import Principal
from praisonai_svc.webhooks.attempts import WebhookLog, read_log

HEARTBEAT_SECONDS = 15.0


async def require_read_access(request: Request) -> None:
    """Like require_access, but counted as a read also for POST (cancel and tickets are not submissions)."""
    request.scope.setdefault("state", {})[PRINCIPAL] = await guard_for(request).admit(request, "read")


router = APIRouter(tags=["live"], dependencies=[Depends(require_read_access)])
ws_router = APIRouter(tags=["live"])  # authenticates itself: a WebSocket has no Request for the dependency
Service = Annotated[JobService, Depends(job_service)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _error("No such job (or another tenant's)")}


def _wire(request: Request | WebSocket, event: JobEvent) -> str:
    if event.type == "done":
        base_request = cast(StarletteRequest, request)
        event = event.model_copy(update={"download_url": absolute_url(base_request, f"/jobs/{event.job_id}/download")})
    return event.model_dump_json(exclude_none=True)


async def open_stream(watcher: EventWatcher, job: Job, after_seq: int) -> Subscription:
    """Subscribe to ``job`` after ``after_seq``; the first event is always ``queued``, the last a terminal one."""
    sub = await watcher.subscribe(job.job_id, after_seq)
    if not sub.logged:
        # No event log: the job has only been submitted (queued), or it is a short job that ended, whose events
        # its record implies (they went to the feed only).
        sub.fill(implied_events(job))
    if job.status.is_terminal and not sub.ended:
        await watcher.heal(job)
    return sub


async def follow(watcher: EventWatcher, sub: Subscription, max_seconds: float) -> AsyncIterator[JobEvent | None]:
    """The subscription's events until the terminal one; None every HEARTBEAT_SECONDS of silence.

    Ends early, without a terminal event, after ``max_seconds``: a stream of a job that never finishes (its
    service stopped, a queue that is not served) does not hold a connection and a subscription forever. A client
    reconnects with ``Last-Event-ID`` / ``after`` and misses nothing (EventSource does this on its own).
    """
    deadline = time.monotonic() + max_seconds
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            batch = await sub.next_batch(min(HEARTBEAT_SECONDS, left))
            if not batch and time.monotonic() < deadline:
                yield None
            for event in batch:
                yield event
                if event.is_terminal:
                    return
    finally:
        watcher.unsubscribe(sub)


def _stream_limit(connection: Request | WebSocket) -> float:
    app: ServiceApp = connection.app.state.service_app
    return app.settings.events_stream_max_seconds


def _after(last_event_id: str | None, after: int | None) -> int:
    for value in (last_event_id, after):
        if value is not None:
            with contextlib.suppress(ValueError):
                return max(int(value), 0)
    return 0


@router.get("/jobs/{job_id}/events", summary="Job events as Server-Sent Events (ends after the last one)",
            responses={**GUARDED, **NOT_FOUND, 200: {"content": {"text/event-stream": {}},
                                                      "description": "id = seq, event = type, data = the event"}},
            openapi_extra=GUARDED_EXTRA, response_model=None)
async def job_events(
    job_id: str, request: Request, service: Service,
    last_event_id: Annotated[str | None, Header(description="Resume after this seq (sent by EventSource)")] = None,
    after: Annotated[int | None, Query(ge=0, description="Start after this seq (when Last-Event-ID is absent)")] = None,
) -> EventSourceResponse:
    job = await service.get(job_id, tenant=principal_of(request).tenant)
    watcher = watcher_of(request)
    sub = await open_stream(watcher, job, _after(last_event_id, after))

    async def messages() -> AsyncIterator[dict[str, Any]]:
        async for event in follow(watcher, sub, _stream_limit(request)):
            if event is None:
                yield {"comment": "keep-alive"}
            else:
                yield {"id": str(event.seq), "event": event.type, "data": _wire(request, event)}

    return EventSourceResponse(messages(), ping=None, headers={"Cache-Control": "no-store",
                                                              "X-Accel-Buffering": "no"})


class Ticket(BaseModel):
    ticket: str
    expires_in: int


@router.post("/jobs/{job_id}/ws-ticket", response_model=Ticket, openapi_extra=GUARDED_EXTRA,
             responses={**GUARDED, **NOT_FOUND},
             summary="A single-use ticket (60 s) for /jobs/{id}/ws, for clients that cannot set headers")
async def ws_ticket(job_id: str, request: Request, service: Service) -> Ticket:
    principal = principal_of(request)
    job = await service.get(job_id, tenant=principal.tenant)
    ticket, ttl = await mint_ticket(backend(request).records, job.job_id, principal)
    return Ticket(ticket=ticket, expires_in=ttl)


async def _ws_principal(websocket: WebSocket, job_id: str, ticket: str | None) -> Principal:
    guard = websocket.app.state.security_guard
    if ticket is not None:
        return await consume_ticket(websocket.app.state.job_service.backend.records, ticket, job_id)
    principal: Principal = await guard.admit(cast(Request, websocket), "read")
    return principal


@ws_router.websocket("/jobs/{job_id}/ws")
async def job_ws(websocket: WebSocket, job_id: str, ticket: str | None = None, after: int = 0) -> None:
    """The same events as /events, one JSON text message each; closes (1000) after the terminal one."""
    try:
        principal = await _ws_principal(websocket, job_id, ticket)
        service: JobService = websocket.app.state.job_service
        job = await service.get(job_id, tenant=principal.tenant)
    except PraisonSvcError as exc:
        # Accepted, then closed with a code a browser can read (a refused handshake shows scripts nothing).
        code = 4401 if isinstance(exc, AuthenticationFailed | TicketInvalid) else (
            4404 if isinstance(exc, JobNotFound) else 4429 if isinstance(exc, RateLimited) else 1013)
        await websocket.accept()
        await websocket.close(code=code, reason=exc.message[:120])
        return
    await websocket.accept()
    watcher = watcher_of(websocket)
    sub = await open_stream(watcher, job, max(after, 0))
    closed = asyncio.ensure_future(_until_closed(websocket))
    try:
        async for event in follow(watcher, sub, _stream_limit(websocket)):
            if closed.done():
                return
            await websocket.send_text(json.dumps({"type": "ping"}) if event is None else _wire(websocket, event))
        await websocket.close(code=1000)
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        closed.cancel()


async def _until_closed(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


@router.post("/jobs/{job_id}/cancel", response_model=JobResponse, openapi_extra=GUARDED_EXTRA,
             responses={**GUARDED, **NOT_FOUND, 409: _error("The job already ended (done or error)")},
             summary="Cancel a job: queued → cancelled at once; processing → cancelled within seconds")
async def cancel_job(job_id: str, request: Request, service: Service) -> JobResponse:
    return job_body(request, await service.cancel(job_id, tenant=principal_of(request).tenant))


@router.get("/jobs/{job_id}/webhooks", response_model=WebhookLog, openapi_extra=GUARDED_EXTRA,
            responses={**GUARDED, **NOT_FOUND}, summary="The job's webhook deliveries and their attempts")
async def job_webhooks(job_id: str, request: Request, service: Service) -> WebhookLog:
    job = await service.get(job_id, tenant=principal_of(request).tenant)
    return await read_log(backend(request).records, job.job_id)


__all__ = ["require_access", "router", "ws_router"]
