"""The typed answers of the API, the same pydantic models the service itself publishes."""

from __future__ import annotations

from praisonai_svc.models.batch import BatchItemResult, BatchResponse
from praisonai_svc.models.job import DownloadLink, JobPage, JobStatus, OutputFile
from praisonai_svc.models.job import JobResponse as Job
from praisonai_svc.usage.report import UsageCountsBody, UsageReport, UsageRowBody

__all__ = ["BatchItemResult", "BatchResponse", "DownloadLink", "Job", "JobPage", "JobStatus", "OutputFile",
           "UsageCountsBody", "UsageReport", "UsageRowBody"]
