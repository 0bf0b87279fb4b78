"""Wire the job event consumers of a process to its app's bus: the durable log, then webhooks.

Both the API process (queued, cancelled) and each worker (everything else) publish job events, so both install
the consumers; an API with an embedded worker shares one app and installs them once (reference counted).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from praisonai_svc.errors import StorageError
from praisonai_svc.events.log import FEED_KIND, RING_KIND, EventLog, install_event_log
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import utcnow

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp
    from praisonai_svc.backend import Backend

# Tracked by every app's retention registry (`praisonai-svc prune` removes them once expired), and pruned by each
# worker every minute (prune_expired), since the feed must stay small whether or not an operator schedules prune.
# ("webhook_intent": webhooks/intents.py, a job ending's pending webhooks, normally removed within moments.)
PRUNED_KINDS = (FEED_KIND, RING_KIND, "job_cancel", "webhook_delivery", "webhook_intent", "ws_ticket")
log = get_logger("events")


def event_log_for(app: ServiceApp, backend: Backend) -> EventLog:
    from praisonai_svc.retention.policy import job_retention_of

    return EventLog(backend.records, retention=timedelta(hours=app.settings.events_retention_hours),
                    job_retention=lambda service: job_retention_of(app, service), feed_gap=backend.batch_write_gap)


def install_consumers(app: ServiceApp, backend: Backend) -> Callable[[], None]:
    """Subscribe the event log and the webhook enqueuer to ``app.events`` and register the webhook outbox's sweep;
    returns the function that undoes it."""
    from praisonai_svc.webhooks.enqueue import install_webhooks
    from praisonai_svc.webhooks.outbox import OUTBOX_NAME, register_webhook_outbox
    from praisonai_svc.webhooks.service import enable_webhooks

    state = app.__dict__.setdefault("_event_consumers", {"count": 0, "stops": []})
    state["count"] += 1
    if state["count"] == 1:
        enable_webhooks(app)
        # Webhooks first: the bus runs subscribers in order, and a delivery job is what must exist before a
        # crash (the event log's feed write may wait for the one in flight and, on Azure, a 0.1 s gap).
        state["stops"] = [install_webhooks(app, backend), install_event_log(app.events, event_log_for(app, backend)),
                          lambda: app.events.outboxes.unregister(OUTBOX_NAME)]
        register_webhook_outbox(app)  # endings whose webhooks a crash left unqueued (webhooks/outbox.py)

    def uninstall() -> None:
        state["count"] -= 1
        if state["count"] == 0:
            for stop in state["stops"]:
                stop()

    return uninstall


async def prune_expired(backend: Backend, *, per_kind: int = 5000) -> int:
    """Delete expired event, cancel, webhook (attempts and intents) and ticket records; return how many went.
    """
    removed = 0
    for kind in PRUNED_KINDS:
        while removed < per_kind * len(PRUNED_KINDS):
            try:
                batch = await backend.records.expired(kind, before=utcnow(), limit=100)
                for record in batch:
                    await backend.records.delete(kind, record.id, etag=record.etag)
            except StorageError as exc:
                log.warning("pruning expired records failed", extra={"kind": kind, "error": str(exc)})
                break
            removed += len(batch)
            if len(batch) < 100:
                break
    return removed
