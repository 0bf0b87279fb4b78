"""``GET /usage``: metered usage per tenant and service, JSON or CSV, with a cost estimate (docs/usage.md).

A tenant's key sees only that tenant's usage (asking for another tenant is a 403). The admin key (X-Admin-Key)
and operator keys (PRAISONAI_API_KEY, which see every job too) see everyone's.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from praisonai_svc.api.auth import principal_of, require_access
from praisonai_svc.api.deps import job_service, service_app
from praisonai_svc.api.jobs import GUARDED, ErrorBody
from praisonai_svc.api.openapi_security import GUARDED_EXTRA
from praisonai_svc.errors import PayloadError
from praisonai_svc.models.job import utcnow
from praisonai_svc.usage.buckets import tenant_label
from praisonai_svc.usage.cost import AZURE_LIST_PRICES, ESTIMATE_NOTE
from praisonai_svc.usage.query import UsageQuery, read_usage, to_csv, totals_by_tenant
from praisonai_svc.usage.report import UsageReport

router = APIRouter(tags=["usage"])
DEFAULT_DAYS = 7


def parse_moment(text: str | None, default: datetime) -> datetime:
    """``2026-12-03`` or a full ISO-8601 time (UTC when it has no offset)."""
    if not text:
        return default
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(
            f"Invalid time {text[:40]!r}: use ISO-8601, e.g. 2026-12-03 or 2026-12-03T10:00:00Z.") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def visible_tenant(request: Request, asked: str | None) -> str | None:
    """The tenant whose usage the caller may read (None: every tenant), or 401/403."""
    admin = service_app(request).settings.admin_key
    expected = admin.get_secret_value() if admin is not None else ""
    candidate = request.headers.get("x-admin-key", "")
    if expected and candidate and hmac.compare_digest(candidate.encode(), expected.encode()):
        return asked
    await require_access(request)
    own = principal_of(request).tenant
    if own is None:
        return asked
    if asked is not None and asked != own:
        raise HTTPException(status_code=403, detail="A tenant's key sees only its own usage; leave out ?tenant=.")
    return own


@router.get("/usage", response_model=UsageReport, summary="Usage per tenant and service (JSON, or CSV)",
            responses={**GUARDED, 400: {"model": ErrorBody, "description": "Invalid time or range"},
                       403: {"model": ErrorBody, "description": "A tenant asked for another tenant's usage"},
                       200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with Accept: text/csv"}},
            openapi_extra=GUARDED_EXTRA)
async def usage(
    request: Request,
    start: Annotated[str | None, Query(alias="from", description="Start (ISO-8601; default: 7 days ago)")] = None,
    end: Annotated[str | None, Query(alias="to", description="End, exclusive (ISO-8601; default: now)")] = None,
    tenant: Annotated[str | None, Query(description="Only this tenant ('-': callers without one)")] = None,
    service: Annotated[str | None, Query(description="Only this service")] = None,
    granularity: Annotated[str, Query(pattern="^(hour|day)$")] = "day",
) -> Response:
    visible = await visible_tenant(request, tenant)
    if service is not None:
        service = service_app(request).job_spec(service).name  # 400 naming the hosted services otherwise
    now = utcnow()
    query = UsageQuery(
        start=parse_moment(start, (now - timedelta(days=DEFAULT_DAYS - 1)).replace(hour=0, minute=0, second=0,
                                                                                 microsecond=0)),
        end=parse_moment(end, now + timedelta(seconds=1)), granularity="hour" if granularity == "hour" else "day",
        tenant=tenant_label(visible) if visible is not None else None, service=service,
    )
    jobs = await job_service(request)
    await jobs.meter.flush()  # this process's newest counts; other processes flush every few seconds
    rows = await read_usage(jobs.backend.records, query)
    if "text/csv" in request.headers.get("accept", ""):
        return Response(to_csv(rows), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="usage.csv"'})
    totals = totals_by_tenant(rows)
    report = {
        "from": query.start.isoformat(), "to": query.end.isoformat(), "granularity": query.granularity,
        "rows": [row.as_dict() for row in rows],
        "totals": {name: counts.as_dict() for name, counts in totals.items()},
        "cost_estimate": {name: AZURE_LIST_PRICES.estimate(counts) for name, counts in totals.items()},
        "cost_note": ESTIMATE_NOTE,
    }
    return JSONResponse(report)
