"""The webhook outbox: a job's ending whose webhooks a crash left unqueued is queued by a sweep.

Whoever ends a job that has webhook targets writes an intent first (:mod:`.intents`), then stores the ending and
publishes it; the enqueuer (:func:`~.enqueue.enqueue_webhooks`) removes the intent once the deliveries are queued.
A kill -9 between the stored ending and the queued deliveries leaves the intent behind, and
:func:`sweep_intents`, registered as the ``webhooks`` outbox (praisonai_svc.events.outbox), settles it: every API
and worker process sweeps when it starts, the elected pruner after each run (intents older than a minute).

For each intent it reads the job: an ended job gets its ending's deliveries queued (deterministic keys, so one
that exists is not queued twice) and the intent goes; a job that is gone, or not ended (the process died before
the ending was stored; the job runs again and writes its own intent), just loses its intent, though the intent of
a job not ended is kept while it is younger than ``SWEEP_MIN_AGE`` even when the sweep was asked for every age (a
process starting up sweeps with no minimum age, and the intent's writer may be about to store the ending). With
nothing pending a sweep is one listing of an empty kind.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from praisonai_svc.errors import JobNotFound, StorageError
from praisonai_svc.events.job_events import ENDING_OF, job_event
from praisonai_svc.events.outbox import SWEEP_MIN_AGE
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import utcnow
from praisonai_svc.records import Record
from praisonai_svc.webhooks.enqueue import enqueue_webhooks
from praisonai_svc.webhooks.intents import KIND, forget_intent, written_utc
from praisonai_svc.webhooks.service import SERVICE

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp
    from praisonai_svc.backend import Backend

OUTBOX_NAME = "webhooks"
SWEEP_LIMIT = 500  # intents one sweep looks at most (the next sweep takes the rest)
log = get_logger("webhooks")


async def sweep_intents(app: ServiceApp, backend: Backend, *, min_age: timedelta = timedelta(0),
                        limit: int = SWEEP_LIMIT) -> int:
    """Settle every intent at least ``min_age`` old; how many endings had their webhooks queued again.

    One bad intent (storage trouble, a job that cannot be read) is logged and left for the next sweep; the
    others are still settled. Raises StorageError only when the intents cannot be listed at all."""
    older_than = utcnow() - min_age
    delivered = seen = 0
    cursor: str | None = None
    while seen < limit:
        page = await backend.records.list(KIND, limit=min(100, limit - seen), cursor=cursor)
        for record in page.records:
            if written_utc(record) > older_than:
                continue  # its writer may still be ending the job
            try:
                delivered += await _settle(app, backend, record)
            except StorageError as exc:
                log.warning("webhook intent not settled; the next sweep retries",
                            extra={"job_id": record.id, "error": str(exc)})
            except Exception:
                log.exception("webhook intent not settled; the next sweep retries", extra={"job_id": record.id})
        seen += len(page.records)
        cursor = page.next_cursor
        if cursor is None:
            break
    return delivered


async def _settle(app: ServiceApp, backend: Backend, record: Record) -> int:
    try:
        job = await backend.jobs.get(record.id)
    except JobNotFound:
        await forget_intent(backend.records, record.id, etag=record.etag)
        log.info("webhook intent of a job that is gone dropped", extra={"job_id": record.id})
        return 0
    ending = ENDING_OF.get(job.status)
    if ending is None:
        if written_utc(record) > utcnow() - SWEEP_MIN_AGE:
            return 0  # whatever age the sweep asked for: its writer may be about to store the ending
        # Died before its ending was stored: the job runs again, and its next ending writes its own intent (the
        # etag keeps an intent that attempt rewrote meanwhile).
        await forget_intent(backend.records, record.id, etag=record.etag)
        log.info("webhook intent of an unfinished job dropped", extra={"job_id": record.id,
                                                                        "status": job.status.value})
        return 0
    log.info("queueing the webhooks of an ending a crash left pending",
             extra={"job_id": job.job_id, "event": ending, "service": job.service})
    if not await enqueue_webhooks(app, backend, job_event(job, ending)):
        await forget_intent(backend.records, record.id, etag=record.etag)  # no targets any more (config changed)
        return 0
    return 1


def register_webhook_outbox(app: ServiceApp) -> None:
    """Make pending webhook intents part of the app's outbox sweeps (only when webhooks are on)."""
    if SERVICE not in app.services:
        return

    async def sweep(backend: Backend, min_age: timedelta) -> int:
        return await sweep_intents(app, backend, min_age=min_age)

    app.events.outboxes.register(OUTBOX_NAME, sweep)
