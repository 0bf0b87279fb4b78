"""Request-scoped access to the app's services, and URL helpers."""

from __future__ import annotations

from fastapi import Request

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.job_service import JobService
from praisonai_svc.models.job import Job, JobResponse, JobStatus


async def job_service(request: Request) -> JobService:
    # async on purpose: FastAPI runs plain ``def`` dependencies in a thread pool, a thread hop per request.
    service: JobService = request.app.state.job_service
    return service


def service_app(request: Request) -> ServiceApp:
    app: ServiceApp = request.app.state.service_app
    return app


def backend(request: Request) -> Backend:
    service: JobService = request.app.state.job_service
    return service.backend


def absolute_url(request: Request, path_or_url: str) -> str:
    """Make an API-relative path absolute, preferring PRAISONAI_PUBLIC_URL over the request's own host."""
    if "://" in path_or_url:
        return path_or_url
    public = service_app(request).settings.public_url
    base = public.rstrip("/") if public else str(request.base_url).rstrip("/")
    return base + path_or_url


def job_body(request: Request, job: Job) -> JobResponse:
    download = absolute_url(request, f"/jobs/{job.job_id}/download") if job.status is JobStatus.DONE else None
    return JobResponse.from_job(job, download_url=download)
