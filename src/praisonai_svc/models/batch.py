"""The answer of ``POST /jobs/batch`` (api/batch.py), shared with the typed client (praisonai_svc.client)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from praisonai_svc.models.job import JobResponse


class BatchItemResult(BaseModel):
    """One item's outcome: ``status`` 202 (queued), 200 (identical job already there) or its error's code."""

    index: int = Field(description="Position of the item in the request's `jobs` list")
    status: int = Field(description="202 queued, 200 existing job, else the HTTP status this item alone would get")
    job: JobResponse | None = None
    detail: str | None = Field(None, description="Why this item was refused (only when status >= 400)")


class BatchResponse(BaseModel):
    results: list[BatchItemResult]
    queued: int
    existing: int
    failed: int
