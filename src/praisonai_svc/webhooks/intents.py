"""Pending webhook intents: the record that says "this job's ending still owes webhooks".

A job's ending (done, error, cancelled) is stored by one write and its webhook deliveries are queued by the bus
subscriber (:mod:`.enqueue`) after it is published; a kill -9 in between would lose the webhook. So whoever ends a
job that has webhook targets first writes an intent record (kind :data:`KIND`, id = the job's id), then stores the
ending, then publishes it; the enqueuer removes the intent once the ending's deliveries are queued, and what a
crash left behind is finished by the sweep (:mod:`.outbox`).

Jobs without webhook targets (no ``callback_url``, no service ``webhook_url``) write nothing: :func:`wants_intent`
is a couple of attribute checks, the only cost the hot path of a plain job pays.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from praisonai_svc.errors import ConcurrencyConflict, StorageError
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import Job, utcnow
from praisonai_svc.records import Record
from praisonai_svc.webhooks.service import SERVICE

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp
    from praisonai_svc.backend import Backend
    from praisonai_svc.records import RecordStore
    from praisonai_svc.registry import HandlerSpec

KIND = "webhook_intent"
log = get_logger("webhooks")


def wants_intent(app: ServiceApp, job: Job, spec: HandlerSpec | None = None) -> bool:
    """Whether ending ``job`` owes webhooks (so an intent must be written before the ending is stored).

    ``spec`` is the job's service when the caller has it at hand (the worker); else it is looked up. The first
    test is the one a job without webhooks fails, at the cost of two attribute reads."""
    if spec is None:
        spec = app.services.get(job.service)
    if not (job.callback_url or (spec is not None and spec.webhook_url)):
        return False
    # Deliveries announce nothing; without the built-in service (no PRAISONAI_WEBHOOK_SECRET) nothing is sent.
    return job.service != SERVICE and SERVICE in app.services


async def write_intent(app: ServiceApp, backend: Backend, job: Job, ending: str) -> None:
    """Record that ``job``'s ``ending`` owes webhooks; call it *before* storing the ending.

    One unconditional upsert (an earlier attempt that died may have left one). Raises StorageError like the
    ending's own write would: the caller then stores no ending, and the job is ended again later."""
    now = utcnow()
    body = {"job_id": job.job_id, "service": job.service, "ending": ending, "written_utc": now.isoformat()}
    # Kept as long as a delivery would be tried: past that, a webhook for this ending is given up anyway.
    expires = now + timedelta(hours=app.settings.webhook_max_age_hours)
    await backend.records.replace(Record(KIND, job.job_id, body, expires_utc=expires))


async def write_intent_if_owed(app: ServiceApp, backend: Backend, job: Job, ending: str,
                               spec: HandlerSpec | None = None) -> None:
    """What whoever ends a job calls just before storing ``ending``: :func:`write_intent` if ending ``job`` owes
    webhooks (:func:`wants_intent`), else nothing (no request)."""
    if wants_intent(app, job, spec):
        await write_intent(app, backend, job, ending)


def written_utc(record: Record) -> datetime:
    """When the intent was written (its expiry stands in for a body that lacks it)."""
    value = record.body.get("written_utc")
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value)
    return record.expires_utc or utcnow()


async def forget_intent(records: RecordStore, job_id: str, *, etag: str | None = None) -> bool:
    """Remove ``job_id``'s intent (idempotent); with ``etag`` only if nobody rewrote it since.

    Never raises for storage trouble: the intent stays and the next sweep settles it (re-queueing a delivery that
    exists is a no-op). Returns whether it is gone."""
    try:
        await records.delete(KIND, job_id, etag=etag)
    except ConcurrencyConflict:
        return False  # rewritten meanwhile: a new attempt is ending the job and owns it now
    except StorageError as exc:
        log.warning("webhook intent not removed; the next outbox sweep settles it",
                    extra={"job_id": job_id, "error": str(exc)})
        return False
    return True
