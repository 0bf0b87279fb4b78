"""``POST /jobs/batch``: up to PRAISONAI_MAX_BATCH_SIZE submissions in one body, one result per item, in order.

The answer is 207 (Multi-Status) once the body itself is usable: each item is submitted on its own (idempotent on
its own payload, validated on its own), and a bad item gets its own 4xx result without sinking the others. The
body as a whole is refused (400/413) only when it is not a batch at all, or holds more items than allowed. The
submission rate limit counts items, not requests.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from praisonai_svc.api.auth import guard_for, principal_of, require_access
from praisonai_svc.api.body import read_limited, to_job_request
from praisonai_svc.api.deps import job_body
from praisonai_svc.api.errors import status_for
from praisonai_svc.api.jobs import ERRORS, SERVICE_QUERY
from praisonai_svc.api.openapi_security import GUARDED_EXTRA
from praisonai_svc.api.receipts import submission_receipt
from praisonai_svc.errors import PayloadError, PraisonSvcError
from praisonai_svc.job_service import JobService, Submission
from praisonai_svc.models.batch import BatchItemResult, BatchResponse
from praisonai_svc.models.job import JobRequest

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
    results = [_result(request, index, outcome) for index, outcome in enumerate(outcomes)]
    body = BatchResponse(
        results=results, queued=sum(r.status == 202 for r in results), existing=sum(r.status == 200 for r in results),
        failed=sum(r.status >= 400 for r in results),
    )
    return Response(body.model_dump_json(exclude_none=True), status_code=207, media_type="application/json")
