"""``POST /jobs/batch``: up to PRAISONAI_MAX_BATCH_SIZE submissions in one body, one result per item, in order.

The answer is 207 (Multi-Status) once the body itself is usable: each item is submitted on its own (idempotent on
its own payload, validated on its own), and a bad item gets its own 4xx result without sinking the others. The
body as a whole is refused (400/413) only when it is not a batch at all, or holds more items than allowed. The
submission rate limit counts items, not requests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic_core import to_json

from praisonai_svc.api.auth import guard_for, principal_of, require_access
from praisonai_svc.api.body import read_limited, to_job_request
from praisonai_svc.api.deps import absolute_url, job_body
from praisonai_svc.api.errors import status_for
from praisonai_svc.api.job_json import job_json
from praisonai_svc.api.jobs import ERRORS, SERVICE_QUERY
from praisonai_svc.api.openapi_security import GUARDED_EXTRA
from praisonai_svc.api.receipts import receipt_issuer, submission_receipt
from praisonai_svc.errors import PayloadError, PraisonSvcError
from praisonai_svc.job_service import JobService, Submission
from praisonai_svc.models.batch import BatchItemResult, BatchResponse
from praisonai_svc.models.job import JobRequest, JobResponse, JobStatus

router = APIRouter(tags=["jobs"], dependencies=[Depends(require_access)])


def batch_items(document: Any, limit: int) -> list[Any]:
    """The list of items of a batch body ``{"jobs": [...]}``; PayloadError when it is not one."""
    if not isinstance(document, dict) or not isinstance(document.get("jobs"), list):
        raise PayloadError('The body must be {"jobs": [{"payload": {...}}, ...]}.')
    extra = set(document) - {"jobs"}
    if extra:
        raise PayloadError(f"Unknown field(s) {', '.join(sorted(extra))}: the body is {{\"jobs\": [...]}}.")
    items: list[Any] = document["jobs"]
    if not items:
        raise PayloadError('"jobs" is empty: send at least one {"payload": {...}}.')
    if len(items) > limit:
        raise PayloadError(f"{len(items)} jobs in one batch; at most {limit} (PRAISONAI_MAX_BATCH_SIZE). Split it.")
    return items


def _parse_item(item: Any, service: str | None) -> JobRequest | PraisonSvcError:
    try:
        return to_job_request(item, service)
    except PraisonSvcError as exc:
        return exc


def _result(request: Request, index: int, outcome: Submission | PraisonSvcError) -> BatchItemResult:
    if isinstance(outcome, PraisonSvcError):
        return BatchItemResult(index=index, status=status_for(outcome), job=None, detail=outcome.message)
    job = job_body(request, outcome.job)
    job.receipt = submission_receipt(request, job)
    return BatchItemResult(index=index, status=202 if outcome.created else 200, job=job, detail=None)


def answer_json(request: Request, outcomes: list[Submission | PraisonSvcError]) -> bytes:
    """``BatchResponse(...).model_dump_json(exclude_none=True)`` of the outcomes, each item's job from the
    queued-job template (api/job_json.py) when it can be; pydantic's own way if the hand-written envelope ever
    stops matching pydantic's (checked once, :func:`_envelope_matches`)."""
    if not _envelope_matches():
        results = [_result(request, index, outcome) for index, outcome in enumerate(outcomes)]
        return BatchResponse(
            results=results, queued=sum(r.status == 202 for r in results),
            existing=sum(r.status == 200 for r in results), failed=sum(r.status >= 400 for r in results),
        ).model_dump_json(exclude_none=True).encode()
    issue = receipt_issuer(request)
    items: list[bytes] = []
    counts = {202: 0, 200: 0}
    failed = 0
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, PraisonSvcError):
            status = status_for(outcome)
            failed += status >= 400
            items.append(_item(index, status, None, outcome.message))
            continue
        job = outcome.job
        status = 202 if outcome.created else 200
        counts[status] += 1
        download = absolute_url(request, f"/jobs/{job.job_id}/download") if job.status is JobStatus.DONE else None
        receipt = issue(job) if issue is not None else None
        items.append(_item(index, status, job_json(job, receipt, download, exclude_none=True), None))
    return _envelope(items, counts[202], counts[200], failed)


def _item(index: int, status: int, job: bytes | None, detail: str | None) -> bytes:
    """One BatchItemResult, as pydantic writes it with exclude_none (a None job or detail has no key)."""
    if job is not None:
        return b'{"index":%d,"status":%d,"job":%s}' % (index, status, job)
    if detail is not None:
        return b'{"index":%d,"status":%d,"detail":%s}' % (index, status, to_json(detail))
    return b'{"index":%d,"status":%d}' % (index, status)


def _envelope(items: list[bytes], queued: int, existing: int, failed: int) -> bytes:
    return b'{"results":[%s],"queued":%d,"existing":%d,"failed":%d}' % (b",".join(items), queued, existing, failed)


@lru_cache(maxsize=1)
def _envelope_matches() -> bool:
    """Whether :func:`_item` and :func:`_envelope` write a sample batch exactly as pydantic does."""
    job = JobResponse(job_id="j", service="s", status=JobStatus.QUEUED, created_utc=datetime(2026, 1, 2, tzinfo=UTC),
                      updated_utc=datetime(2026, 1, 2, tzinfo=UTC), receipt="r")
    results = [BatchItemResult(index=0, status=202, job=job, detail=None),
               BatchItemResult(index=1, status=400, job=None, detail='bad "item"\n\u00e9\u2028')]
    expected = BatchResponse(results=results, queued=1, existing=0, failed=1).model_dump_json(exclude_none=True)
    items = [_item(0, 202, job.model_dump_json(exclude_none=True).encode(), None),
             _item(1, 400, None, results[1].detail)]
    return _envelope(items, 1, 0, 1) == expected.encode()


# Any value is accepted as an item: one that is not a JobSubmission gets its own 400 result, and the others are
# still queued (a bad item never sinks the batch), so the schema must not make the whole request invalid.
BATCH_ITEM = {"anyOf": [{"$ref": "#/components/schemas/JobSubmission"}, {}],
              "description": "A JobSubmission; anything else is refused on its own (status 400 in its result)."}


@router.post(
    "/jobs/batch", status_code=207, response_model=BatchResponse, summary="Submit many jobs (one result each)",
    responses={**ERRORS, 207: {"description": "One result per item, in order"}},
    openapi_extra={**GUARDED_EXTRA, "parameters": [SERVICE_QUERY], "requestBody": {
        "required": True, "content": {media: {"schema": {"type": "object", "required": ["jobs"], "properties": {
            "jobs": {"type": "array", "items": BATCH_ITEM}}}}
            for media in ("application/json", "application/yaml", "text/yaml")},
    }},
)
async def submit_batch(request: Request) -> Response:
    service: JobService = request.app.state.job_service
    settings = service.app.settings
    raw = await read_limited(request, settings.max_payload_size, settings.body_read_timeout_seconds)
    document = await request.app.state.parse_pool.parse(raw, request.headers.get("content-type", ""))
    items = batch_items(document, settings.max_batch_size)
    principal = principal_of(request)
    await guard_for(request).count_more(request, principal, len(items) - 1)  # require_access counted one
    named = request.query_params.get("service")
    outcomes = await service.submit_many([_parse_item(item, named) for item in items], tenant=principal.tenant,
                                         size=len(raw))
    return Response(answer_json(request, outcomes), status_code=207, media_type="application/json")
