"""Shared pieces of the webhook outbox tests (unit and contract): an app with webhooks on, one worker step, a
simulated kill -9, and what the storage then holds (delivery jobs, pending intents)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from pydantic import SecretStr

from praisonai_svc import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.errors import JobFailed
from praisonai_svc.events import Event
from praisonai_svc.job_service import JobService
from praisonai_svc.models.job import Job, JobRequest
from praisonai_svc.settings import Settings
from praisonai_svc.webhooks.intents import KIND
from praisonai_svc.webhooks.service import SERVICE
from praisonai_svc.worker.processor import MessageProcessor

CALLBACK = "https://client.example/cb"
SERVICE_URL = "https://hooks.example/service"


class Crash(BaseException):
    """A kill -9 at this point: nothing after it runs in this "process" (the bus does not catch it)."""


def webhook_app(settings: Settings, *, secret: bool = True) -> ServiceApp:
    """``hooked`` (a service webhook_url; fails when the payload says so) and ``plain`` (no webhooks)."""
    if secret:
        settings = settings.model_copy(update={"webhook_secret": SecretStr("s" * 32)})
    app = ServiceApp("Hooks", settings=settings)

    @app.job("hooked", webhook_url=SERVICE_URL)
    def hooked(payload: dict[str, Any]) -> tuple[bytes, str, str]:
        if payload.get("fail"):
            raise JobFailed("told to fail")
        return b"ok", "text/plain", "ok.txt"

    @app.job("plain")
    def plain(payload: dict[str, Any]) -> tuple[bytes, str, str]:
        return b"ok", "text/plain", "ok.txt"

    return app


@contextlib.contextmanager
def crashing_on(app: ServiceApp, *topics: str) -> Iterator[list[str]]:
    """Until the block ends, publishing one of ``topics`` on ``app`` "kills the process" before any later
    subscriber runs (subscribe it before the consumers). Yields the subjects it stopped."""
    stopped: list[str] = []

    async def crash(event: Event) -> None:
        stopped.append(event.subject)
        raise Crash()

    stops = [app.events.subscribe(topic, crash) for topic in topics]
    try:
        yield stopped
    finally:
        for stop in stops:
            stop()


async def submit(app: ServiceApp, backend: Backend, service: str, payload: dict[str, Any] | None = None,
                 callback_url: str | None = None) -> Job:
    request = JobRequest(payload=payload or {}, service=service, callback_url=callback_url)
    return (await JobService(app, backend).submit(request)).job


async def process_next(app: ServiceApp, backend: Backend, service: str) -> None:
    """One worker step: receive the service's next message and process it (as the worker's loop would)."""
    spec = app.job_spec(service)
    queue = backend.queue(spec.queue_name)
    for _ in range(50):  # a message just sent is visible at once; a few reads cover a slow emulator
        messages = await queue.receive(1, 30)
        if messages:
            await MessageProcessor(app, backend).process(spec, queue, messages[0])
            return
    raise AssertionError(f"no message for {service} arrived")


async def deliveries(backend: Backend) -> list[tuple[str, str, str]]:
    """(job, event, URL) of every webhook delivery job, sorted."""
    listing = await backend.jobs.list(service=SERVICE, limit=200)
    return sorted((str(j.payload["job_id"]), str(j.payload["event"]), str(j.payload["url"])) for j in listing.jobs)


async def intents(backend: Backend) -> list[str]:
    """The job ids with a pending webhook intent."""
    return [record.id for record in (await backend.records.list(KIND, limit=200)).records]


class KindSpy:
    """A record store that notes the record kind of every request made through it (the real store answers)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.kinds: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        async def noted(*args: Any, **kwargs: Any) -> Any:
            if args:
                first = args[0]
                self.kinds.append(first if isinstance(first, str) else str(getattr(first, "kind", "")))
            return await attr(*args, **kwargs)

        return noted
