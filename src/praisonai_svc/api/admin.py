"""``/admin/poison-queue``: review and requeue poisoned jobs, behind PRAISONAI_ADMIN_KEY (header X-Admin-Key).

With no admin key configured the endpoints answer 404, as if they did not exist: an operator has to opt in.
The key is checked by :mod:`praisonai_svc.api.admin_key`: in constant time, and a wrong key counts against
the caller's address like a wrong API key (and in the failed-authentication metric, through its 401).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel

from praisonai_svc.api.admin_key import require_admin_key
from praisonai_svc.api.deps import backend, job_body, service_app
from praisonai_svc.errors import ConcurrencyConflict
from praisonai_svc.models.job import JobResponse
from praisonai_svc.poison import NotRequeueable, PoisonEntry, PoisonReview, QueueDepth

router = APIRouter(prefix="/admin", tags=["admin"], responses={
    401: {"description": "Missing or wrong X-Admin-Key"},
    404: {"description": "No PRAISONAI_ADMIN_KEY configured (or, for a requeue, no such job)"},
})


class PoisonQueueBody(BaseModel):
    """The review's own dataclasses serve as the response schema, so the two cannot drift apart."""

    queues: list[QueueDepth]
    messages: list[PoisonEntry]


def review(request: Request) -> PoisonReview:
    return PoisonReview(service_app(request), backend(request))


@router.get("/poison-queue", response_model=PoisonQueueBody, dependencies=[Depends(require_admin_key)],
            summary="Poisoned jobs awaiting review (the oldest, up to `limit` per service queue)")
async def poison_queue(
    request: Request, limit: Annotated[int, Query(ge=1, le=32)] = 32,
) -> dict[str, Any]:
    poison = review(request)
    depths = await poison.depths()
    entries = await poison.entries(limit)
    return {"queues": depths, "messages": entries}


@router.post("/poison-queue/{job_id}/requeue", response_model=JobResponse,
             dependencies=[Depends(require_admin_key)],
             responses={409: {"description": "The job is not in error (or changed meanwhile)"}},
             summary="Run a failed job again (attempts reset, its earlier outcome kept in history)")
async def requeue(job_id: str, request: Request) -> JobResponse:
    try:
        job = await review(request).requeue(job_id)
    except (NotRequeueable, ConcurrencyConflict) as exc:
        raise HTTPException(status_code=409, detail=exc.message) from exc
    service_app(request).metrics.job_requeued(job.service)
    return job_body(request, job)
