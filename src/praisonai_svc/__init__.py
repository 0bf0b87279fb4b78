"""praisonai-svc: turn one Python file into a production job service.

    from praisonai_svc import ServiceApp

    app = ServiceApp("PraisonAI PPT")

    @app.job
    def generate_ppt(payload: dict) -> tuple[bytes, str, str]:
        ...
"""

from praisonai_svc._version import __version__
from praisonai_svc.app import ServiceApp
from praisonai_svc.context import JobContext
from praisonai_svc.errors import JobCancelled, JobFailed, NonRetryableError, PraisonSvcError
from praisonai_svc.models.job import JobRequest, JobResponse, JobStatus
from praisonai_svc.outputs import Outputs
from praisonai_svc.settings import Settings

__all__ = [
    "JobCancelled",
    "JobContext",
    "JobFailed",
    "JobRequest",
    "JobResponse",
    "JobStatus",
    "NonRetryableError",
    "Outputs",
    "PraisonSvcError",
    "ServiceApp",
    "Settings",
    "__version__",
]
