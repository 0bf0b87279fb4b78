"""Turn job events into webhook delivery jobs (a subscriber of the app's event bus, and the outbox's sweep)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from praisonai_svc.errors import StorageError
from praisonai_svc.events.bus import Event
from praisonai_svc.hashing import payload_hash
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import Job, utcnow
from praisonai_svc.ports import DuplicateJob
from praisonai_svc.webhooks.intents import forget_intent
from praisonai_svc.webhooks.service import SERVICE

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp
    from praisonai_svc.backend import Backend

ENDING = ("done", "error", "cancelled")
log = get_logger("webhooks")


def targets(app: ServiceApp, event: Event) -> list[str]:
    """The URLs this event goes to: the job's callback_url and its service's webhook_url."""
    kind = event.topic.removeprefix("job.")
    data = event.data
    spec = app.services.get(str(data.get("service")))
    urls = [url for url in (data.get("callback_url"), spec.webhook_url if spec else None) if url]
    if kind in ENDING:
        return list(dict.fromkeys(urls))
    if kind == "progress" and data.get("webhook_progress"):
        return list(dict.fromkeys(urls))
    return []


async def enqueue_webhooks(app: ServiceApp, backend: Backend, event: Event) -> int:
    """Queue a delivery job per URL of ``event`` (:func:`targets`); how many URLs it has.

    The one place that turns a job event into deliveries: the bus subscriber calls it for every published event,
    the webhook outbox's sweep (:mod:`.outbox`) for an ending a crash left undelivered. An ending's deliveries
    have deterministic keys (job, event, URL), so queueing them again finds the existing job and adds none. Once
    an ending's deliveries are all queued its pending intent (:mod:`.intents`) is removed. Raises StorageError
    when a delivery could not be queued (the intent then stays for the sweep).
    """
    spec = app.services.get(SERVICE)
    if spec is None or event.data.get("service") == SERVICE:
        return 0  # webhooks are off; deliveries do not announce themselves
    urls = targets(app, event)
    kind = event.topic.removeprefix("job.")
    for url in urls:
        # Deterministic for endings (one delivery per job, event and URL, however often it is published);
        # progress deliveries are told apart by their time.
        key = {"job_id": event.subject, "url": url, "event": kind,
               **({"at": event.data.get("at")} if kind == "progress" else {})}
        now = utcnow()
        job = Job(job_id=new_id(), service=SERVICE, payload={**key, "created_utc": now.isoformat()},
                  payload_hash=payload_hash(key, scope=SERVICE), created_utc=now, updated_utc=now)
        try:
            await backend.create_and_enqueue(job, spec.queue_name)
        except DuplicateJob:
            continue
        except StorageError as exc:
            log.error("webhook delivery could not be queued", extra={"job_id": event.subject, "error": str(exc)})
            raise
    if urls and kind in ENDING:
        await forget_intent(backend.records, event.subject)  # never raises: a sweep settles a leftover
    return len(urls)


def install_webhooks(app: ServiceApp, backend: Backend) -> Callable[[], None]:
    """Subscribe the enqueuer to ``job.*``; returns the unsubscribe function (a no-op when webhooks are off)."""
    if SERVICE not in app.services:
        return lambda: None

    async def enqueue(event: Event) -> None:
        await enqueue_webhooks(app, backend, event)

    # Only endings and progress can have targets (see targets()): the rest are not even delivered here.
    return app.events.subscribe("job.*", enqueue, ignore=("job.queued", "job.started", "job.retrying"))


def new_id() -> str:
    from praisonai_svc.job_service import new_job_id

    return new_job_id()
