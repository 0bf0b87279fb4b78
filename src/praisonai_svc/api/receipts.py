"""The submission receipt in the answer to a bearer-token ``POST /jobs`` (the design: security/receipts.py)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from praisonai_svc.api.auth import guard_for, principal_of
from praisonai_svc.models.job import Job, JobResponse


def submission_receipt(request: Request, job: Job | JobResponse) -> str | None:
    """A receipt naming ``job`` and the caller's token, or None (API keys get none; no JWT secret, none)."""
    issue = receipt_issuer(request)
    return issue(job) if issue is not None else None


def receipt_issuer(request: Request) -> Callable[[Job | JobResponse], str] | None:
    """What :func:`submission_receipt` does, worked out once for the many jobs of one request (a batch): None
    when this caller gets no receipts."""
    token = principal_of(request).token
    signer = guard_for(request).receipts
    if token is None or signer is None:
        return None

    def issue(job: Job | JobResponse) -> str:
        return signer.issue(job_id=job.job_id, service=job.service, subject=token.subject, issuer=token.issuer,
                            tenant=token.tenant)

    return issue
