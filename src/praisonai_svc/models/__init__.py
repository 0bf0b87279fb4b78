"""Public data models (names kept from the seed documents)."""

from praisonai_svc.models.job import (
    DownloadLink,
    Job,
    JobPage,
    JobRequest,
    JobResponse,
    JobResult,
    JobStatus,
)

__all__ = ["DownloadLink", "Job", "JobPage", "JobRequest", "JobResponse", "JobResult", "JobStatus"]
