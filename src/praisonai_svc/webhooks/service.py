"""The built-in ``webhook`` job service: one job per delivery (one event of one job to one URL).

Its handler runs on the worker's own event loop (it only awaits I/O), reads the job as it is now, signs it and
POSTs it through :func:`~.transport.post_signed`. 2xx ends the delivery; 408, 429, 5xx, timeouts and connection
errors raise :class:`RetryableDelivery`, so the worker retries with exponential backoff; any other 4xx, or an
age past PRAISONAI_WEBHOOK_MAX_AGE_HOURS, fails it for good. Every attempt is recorded (:mod:`.attempts`).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import httpx

from praisonai_svc.context import JobContext
from praisonai_svc.errors import ConfigError, JobFailed, JobNotFound
from praisonai_svc.models.job import JobResponse, JobStatus, utcnow
from praisonai_svc.registry import make_spec
from praisonai_svc.retention.policy import retention_of
from praisonai_svc.webhooks import transport
from praisonai_svc.webhooks.attempts import KIND, WebhookAttempt, WebhookDelivery, record_attempt
from praisonai_svc.webhooks.signing import DELIVERY_HEADER, EVENT_HEADER, HEADER, sign

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp

SERVICE = "webhook"
MAX_ATTEMPTS = 100  # the age limit (24 h by default) ends a delivery long before this
BACKOFF_MAX_SECONDS = 3600.0


class RetryableDelivery(Exception):
    """The receiver did not take the webhook (5xx, 408, 429, timeout, connection error); it is tried again."""


def job_document(job_response: JobResponse) -> bytes:
    return json.dumps(job_response.model_dump(mode="json"), separators=(",", ":")).encode()


def _download_url(app: ServiceApp, job_id: str, status: JobStatus) -> str | None:
    if status is not JobStatus.DONE:
        return None
    base = (app.settings.public_url or "").rstrip("/")
    return f"{base}/jobs/{job_id}/download"


def make_deliver(app: ServiceApp) -> Any:
    async def deliver(payload: dict[str, Any], context: JobContext) -> tuple[bytes, str, str]:
        backend = context._backend
        assert backend is not None, "the webhook service runs inline in a worker"
        settings = app.settings
        secret = settings.webhook_secret_value
        if secret is None:
            raise JobFailed("Webhooks are off (PRAISONAI_WEBHOOK_SECRET is not set); delivery abandoned.")
        job_id, url, event = str(payload["job_id"]), str(payload["url"]), str(payload["event"])
        created = datetime.fromisoformat(str(payload["created_utc"]))
        delivery = WebhookDelivery(delivery_id=context.job_id, url=url, event=event, created_utc=created)
        keep = retention_of(KIND, settings)
        if utcnow() - created > timedelta(hours=settings.webhook_max_age_hours):
            await record_attempt(backend.records, job_id, delivery, None, "failed", keep)
            raise JobFailed(f"Webhook not delivered within {settings.webhook_max_age_hours:g} h; giving up.")
        try:
            job = await backend.jobs.get(job_id)
        except JobNotFound:
            raise JobFailed(f"Job {job_id} no longer exists; nothing to deliver.") from None
        body = job_document(JobResponse.from_job(job, _download_url(app, job.job_id, job.status)))
        headers = {"Content-Type": "application/json", HEADER: sign(secret, body), DELIVERY_HEADER: context.job_id,
                   EVENT_HEADER: event, "User-Agent": "praisonai-svc-webhooks"}
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            status = await transport.post_signed(url, body, headers, settings)
        except transport.RefusedDestination as exc:
            error = exc.message
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        attempt = WebhookAttempt(at=utcnow(), status_code=status, error=error,
                                 duration_ms=int((time.monotonic() - started) * 1000))
        delivered = status is not None and 200 <= status < 300
        final = error is not None and status is None and "PRAISONAI_FETCH_ALLOWED_HOSTS" in error
        permanent = final or (status is not None and 400 <= status < 500 and status not in (408, 429))
        state: Literal["pending", "delivered", "failed"] = (
            "delivered" if delivered else ("failed" if permanent else "pending"))
        await record_attempt(backend.records, job_id, delivery, attempt, state, keep)
        context.logger.info("webhook attempt", extra={"url": url, "status_code": status, "error": error,
                                                      "event": event})
        if delivered:
            return json.dumps({"status_code": status}).encode(), "application/json", "delivery.json"
        if permanent:
            raise JobFailed(f"Webhook refused: {error or f'HTTP {status}'} (not retried).")
        raise RetryableDelivery(error or f"HTTP {status}")

    return deliver


def enable_webhooks(app: ServiceApp) -> None:
    """Register the built-in ``webhook`` service (once; only when PRAISONAI_WEBHOOK_SECRET is set)."""
    existing = app.services.get(SERVICE)
    if existing is not None:
        if not existing.internal:
            raise ConfigError(f"A service named '{SERVICE}' is reserved for webhook deliveries; rename yours.")
        return
    if app.settings.webhook_secret_value is None:
        return
    spec = make_spec(make_deliver(app), SERVICE, app._queue_name_for(SERVICE), max_attempts=MAX_ATTEMPTS,
                     internal=True, runs_on_loop=True, retry_backoff_seconds=app.settings.webhook_retry_base_seconds,
                     retry_backoff_max_seconds=BACKOFF_MAX_SECONDS, timeout_seconds=app.settings.webhook_timeout_seconds
                     + 30)
    app.services[SERVICE] = spec
