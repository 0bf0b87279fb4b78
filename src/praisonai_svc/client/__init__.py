"""A typed Python client of a praisonai-svc service (docs/client.md).

    from praisonai_svc.client import Client

    with Client("https://ppt.example.com", api_key="...") as client:
        job = client.submit({"title": "Q3"}, wait=True)
        client.download(job.job_id, "out/")

:class:`AsyncClient` has the same methods as coroutines.
"""

from praisonai_svc.client.aio import AsyncClient
from praisonai_svc.client.common import RetryPolicy
from praisonai_svc.client.errors import (
    BadRequest,
    ClientError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    WaitTimeout,
)
from praisonai_svc.client.models import BatchItemResult, BatchResponse, Job, JobPage, OutputFile, UsageReport
from praisonai_svc.client.sync import Client

__all__ = [
    "AsyncClient", "BadRequest", "BatchItemResult", "BatchResponse", "Client", "ClientError", "Conflict",
    "ConnectionFailed", "Forbidden", "Job", "JobPage", "NotFound", "OutputFile", "RateLimited", "RetryPolicy",
    "ServiceUnavailable", "Unauthorized", "UsageReport", "WaitTimeout",
]
