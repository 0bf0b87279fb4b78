"""Job events: what a job's stream, long-poll and webhooks are made of.

Every state change and progress update of a job is a :class:`JobEvent` with a per-job ``seq`` (1, 2, 3 …) that
only grows, so a client that reconnects with the last ``seq`` it saw resumes where it stopped. The first event of
every job is ``queued`` (seq 1); the last is one of the terminal types. Producers publish them on the app's
:class:`~praisonai_svc.events.EventBus` as topic ``job.<type>`` (without a seq): the durable log
(:mod:`praisonai_svc.events.log`) numbers and stores them, and webhooks and streams follow from there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from praisonai_svc.events.bus import Event, EventBus
from praisonai_svc.models.job import Job, JobStatus, utcnow

JobEventType = Literal["queued", "started", "progress", "retrying", "done", "error", "cancelled"]
TERMINAL_TYPES: frozenset[str] = frozenset({"done", "error", "cancelled"})
STATUS_OF: dict[str, JobStatus] = {
    "queued": JobStatus.QUEUED, "started": JobStatus.PROCESSING, "progress": JobStatus.PROCESSING,
    "retrying": JobStatus.QUEUED, "done": JobStatus.DONE, "error": JobStatus.ERROR,
    "cancelled": JobStatus.CANCELLED,
}
# The event that ends a job, by its terminal status (the reverse of STATUS_OF for the endings).
ENDING_OF: dict[JobStatus, JobEventType] = {
    JobStatus.DONE: "done", JobStatus.ERROR: "error", JobStatus.CANCELLED: "cancelled"}


class JobEvent(BaseModel):
    """One event of one job, as streams send it (``data`` of an SSE message, one WebSocket text frame)."""

    job_id: str
    seq: int
    type: JobEventType
    status: JobStatus
    at: datetime
    attempt: int | None = None
    progress: float | None = None
    message: str | None = None
    error_msg: str | None = None
    download_url: str | None = None  # set by the API on ``done`` (links are never stored)

    @property
    def is_terminal(self) -> bool:
        return self.type in TERMINAL_TYPES


def event_data(job: Job, type_: JobEventType, **extra: Any) -> dict[str, Any]:
    """The unnumbered event of ``job`` that producers publish (``attempt``, ``progress`` … from the job).

    ``queued``, ``started`` and the endings are dated by the job's own times (``created_utc``, ``started_utc``,
    ``finished_utc``), so that the events a job's record implies (:func:`implied_events`) are the very events
    that were published.
    """
    at = job.started_utc if type_ == "started" else job.finished_utc if type_ in TERMINAL_TYPES \
        else job.created_utc if type_ == "queued" else None
    data: dict[str, Any] = {"job_id": job.job_id, "type": type_, "status": STATUS_OF[type_].value,
                            "at": (at or utcnow()).isoformat(), "attempt": job.attempts or None,
                            "queued_at": job.created_utc.isoformat(), "service": job.service}
    if job.callback_url:  # for the webhook enqueuer; the log keeps only JobEvent's own fields
        data["callback_url"] = job.callback_url
    if job.webhook_progress:
        data["webhook_progress"] = True
    if type_ == "progress":
        data |= {"progress": job.progress, "message": job.progress_msg}
    if type_ in ("error", "retrying"):
        data["error_msg"] = job.error_msg
    data.update(extra)
    return data


def job_event(job: Job, type_: JobEventType, **extra: Any) -> Event:
    """The bus event ``job.<type>`` of ``job`` (what :func:`publish_job_event` publishes)."""
    return Event(f"job.{type_}", job.job_id, event_data(job, type_, **extra), tenant=job.tenant)


async def publish_job_event(bus: EventBus, job: Job, type_: JobEventType, **extra: Any) -> None:
    """Publish ``job.<type>`` for ``job`` on ``bus`` (consumers' failures never reach the producer)."""
    await bus.publish(job_event(job, type_, **extra))


def queued_event(job: Job) -> JobEvent:
    """Event 1 of every job: its submission (the log stores it with the first event written after it)."""
    return JobEvent(job_id=job.job_id, seq=1, type="queued", status=JobStatus.QUEUED, at=job.created_utc)


def implied_events(job: Job) -> list[JobEvent]:
    """The events a job's record implies when its log holds none: ``queued``, then for a job that started
    ``started`` (2), and for one that also ended, its ending (3).

    A first attempt that neither reports progress nor fails has its ``started`` and its ending written to the
    feed only, not to an event log of its own (:meth:`~praisonai_svc.events.log.EventLog.append_many`): they are
    exactly these, since :func:`event_data` dates and fills them from the job record."""
    events = [queued_event(job)]
    if job.started_utc is None or job.status is JobStatus.QUEUED:
        return events
    if job.attempts > 1 and not job.status.is_terminal:
        # A later attempt's events are written to the job's log (from seq 3 when it has none yet: the first
        # attempt may have published an implied ``started`` as seq 2); until then only ``queued`` is implied.
        return events
    events.append(JobEvent.model_validate({**event_data(job, "started"), "seq": 2}))
    if job.status.is_terminal:
        events.append(JobEvent.model_validate({**event_data(job, ENDING_OF[job.status]), "seq": 3}))
    return events
