"""The shape of a usage report (``GET /usage`` as JSON), shared by the API's schema and the client."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class UsageCountsBody(BaseModel):
    jobs_submitted: int
    jobs_done: int
    jobs_failed: int
    handler_seconds: float
    bytes_in: int
    bytes_out: int
    storage_requests: int


class UsageRowBody(UsageCountsBody):
    period: str = Field(description="Start of the hour or day, ISO-8601 UTC")
    tenant: str = Field(description="The tenant; '-' for callers without one")
    service: str


class UsageReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    granularity: str
    rows: list[UsageRowBody]
    totals: dict[str, UsageCountsBody] = Field(description="Per tenant, over the whole range")
    cost_estimate: dict[str, dict[str, float]] = Field(description="Per tenant, USD; an estimate, not a bill")
    cost_note: str
