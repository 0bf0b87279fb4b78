"""The webhook attempts of one job, for ``GET /jobs/{id}/webhooks``: one record per job (a point read)."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from praisonai_svc.errors import RecordExists, RecordNotFound
from praisonai_svc.models.job import utcnow
from praisonai_svc.records import Record, RecordStore, update_record

KIND = "webhook_delivery"  # one record per job, kept PRAISONAI_WEBHOOK_DELIVERY_RETENTION
MAX_DELIVERIES = 100  # per job; the oldest are dropped first (progress webhooks can make many)
MAX_ATTEMPTS_KEPT = 50  # per delivery


class WebhookAttempt(BaseModel):
    at: datetime
    status_code: int | None = None
    error: str | None = None
    duration_ms: int


class WebhookDelivery(BaseModel):
    """One webhook (one event to one URL) and every attempt to deliver it."""

    delivery_id: str = Field(description="The X-PraisonAI-Delivery header: the same on every retry.")
    url: str
    event: str
    state: Literal["pending", "delivered", "failed"] = "pending"
    created_utc: datetime
    attempts: list[WebhookAttempt] = Field(default_factory=list)


class WebhookLog(BaseModel):
    job_id: str
    deliveries: list[WebhookDelivery] = Field(default_factory=list)


async def read_log(records: RecordStore, job_id: str) -> WebhookLog:
    record = await records.find(KIND, job_id)
    if record is None:
        return WebhookLog(job_id=job_id)
    return WebhookLog.model_validate({"job_id": job_id, **record.body})


async def record_attempt(
    records: RecordStore, job_id: str, delivery: WebhookDelivery, attempt: WebhookAttempt | None,
    state: Literal["pending", "delivered", "failed"], retention: timedelta,
) -> None:
    """Add ``attempt`` to ``delivery`` (created in the log on first use) and set its state."""

    def change(record: Record) -> Record:
        body: dict[str, Any] = dict(record.body)
        deliveries = [WebhookDelivery.model_validate(item) for item in body.get("deliveries", [])]
        current = next((d for d in deliveries if d.delivery_id == delivery.delivery_id), None)
        if current is None:
            current = delivery.model_copy(deep=True)
            deliveries.append(current)
        if attempt is not None:
            current.attempts = [*current.attempts, attempt][-MAX_ATTEMPTS_KEPT:]
        current.state = state
        body["deliveries"] = [d.model_dump(mode="json") for d in deliveries[-MAX_DELIVERIES:]]
        return record.evolve(body=body, expires_utc=utcnow() + retention)

    for _ in range(3):
        try:
            await update_record(records, KIND, job_id, change)
            return
        except RecordNotFound:
            with contextlib.suppress(RecordExists):  # created by a concurrent attempt: update that one
                await records.create(Record(KIND, job_id, {"deliveries": []}, expires_utc=utcnow() + retention))
