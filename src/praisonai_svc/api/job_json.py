"""The JSON answer for a job that is still as it was queued, written from a template instead of by pydantic.

``JobResponse.from_job(job).model_dump_json()`` validates twenty fields and serialises them: ~10 µs, 5 % of a
submission's CPU. The answer to ``POST /jobs`` is nearly always a job that was just queued, whose fields are all
at their defaults but five: its id, service, two timestamps and (for bearer tokens) the receipt. The template is
pydantic's own output for a probe job whose five fields hold markers, cut at the markers; each value is encoded
with ``pydantic_core.to_json``, the serializer pydantic itself uses for those types. So the field order, the
names and the formats follow the model by construction, and the template checks itself when it is built: if a
sample job does not render byte for byte as pydantic renders it, the template is off and pydantic is used.

A job with anything else set (started, retried, cancelled, outputs ...) is always rendered by pydantic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from pydantic_core import to_json

from praisonai_svc.models.job import Job, JobResponse, JobStatus

_MARKS: dict[str, object] = {
    "job_id": "@@job-id-mark@@",
    "service": "@@service-mark@@",
    "created_utc": datetime(1999, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    "updated_utc": datetime(1998, 6, 7, 8, 9, 10, 111213, tzinfo=UTC),
    "receipt": "@@receipt-mark@@",
}


class QueuedJobTemplate:
    """pydantic's JSON of a queued job, cut into literal parts and the slots between them.

    ``exclude_none``: as ``model_dump_json(exclude_none=True)`` writes it (the batch answer), where a job without
    a receipt has no ``receipt`` key at all, so that case has a template of its own (``with_receipt`` False).
    """

    def __init__(self, *, exclude_none: bool = False, with_receipt: bool = True) -> None:
        marks = {name: mark for name, mark in _MARKS.items() if with_receipt or name != "receipt"}
        probe = _probe(**{name: value for name, value in marks.items() if name != "receipt"})
        body = JobResponse.from_job(probe)
        body.receipt = str(marks["receipt"]) if with_receipt else None
        text = body.model_dump_json(exclude_none=exclude_none).encode()
        self.exclude_none = exclude_none
        self.parts: list[bytes] = []
        self.slots: list[str] = []
        positions = sorted((text.find(to_json(mark)), name) for name, mark in marks.items())
        start = 0
        for position, name in positions:
            if position < start or text.count(to_json(marks[name])) != 1:
                raise ValueError(f"the marker of {name} is not found exactly once")
            self.parts.append(text[start:position])
            self.slots.append(name)
            start = position + len(to_json(marks[name]))
        self.parts.append(text[start:])

    def render(self, job: Job, receipt: str | None) -> bytes:
        values = {"job_id": job.job_id, "service": job.service, "created_utc": job.created_utc,
                  "updated_utc": job.updated_utc, "receipt": receipt}
        out = [self.parts[0]]
        for slot, part in zip(self.slots, self.parts[1:], strict=True):
            out.append(to_json(values[slot]))
            out.append(part)
        return b"".join(out)


def _probe(**fields: object) -> Job:
    return Job(payload={}, payload_hash="", **fields)  # type: ignore[arg-type]


def _pydantic(job: Job, receipt: str | None, download_url: str | None, exclude_none: bool) -> bytes:
    body = JobResponse.from_job(job, download_url=download_url)
    body.receipt = receipt
    return body.model_dump_json(exclude_none=exclude_none).encode()


@lru_cache(maxsize=4)
def _template(exclude_none: bool = False, with_receipt: bool = True) -> QueuedJobTemplate | None:
    """The template if it renders a sample exactly as pydantic does; None (pydantic every time) otherwise."""
    try:
        template = QueuedJobTemplate(exclude_none=exclude_none, with_receipt=with_receipt)
        sample = _probe(job_id="0123456789abcdef0123456789abcdef", service='s\u00e9rvice "x"\n',
                        created_utc=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                        updated_utc=datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC))
        for receipt in (("eyJ.receipt\u2028", None) if with_receipt and not exclude_none
                        else ("eyJ.receipt\u2028",) if with_receipt else (None,)):
            if template.render(sample, receipt) != _pydantic(sample, receipt, None, exclude_none):
                return None
    except ValueError:
        return None
    return template


def is_as_queued(job: Job) -> bool:
    """Whether every field of ``job`` that the answer shows, but the five slots, is as a new job has it."""
    return (job.status is JobStatus.QUEUED and job.attempts == 0 and job.error_msg is None
            and job.started_utc is None and job.finished_utc is None and job.progress is None
            and job.progress_msg is None and job.result is None and not job.outputs and not job.history
            and job.cancel_requested_utc is None)


def job_json(job: Job, receipt: str | None, download_url: str | None = None, *, exclude_none: bool = False) -> bytes:
    """``JobResponse.from_job(job, download_url)`` with ``receipt``, as JSON (``model_dump_json``, with
    ``exclude_none`` as given); from a template when it can."""
    if download_url is None and is_as_queued(job):
        template = _template(exclude_none, receipt is not None or not exclude_none)
        if template is not None:
            return template.render(job, receipt)
    return _pydantic(job, receipt, download_url, exclude_none)
