"""Errors of the workflows feature (mapped to HTTP codes in api/errors.py)."""

from __future__ import annotations

from praisonai_svc.errors import PraisonSvcError


class WorkflowNotFound(PraisonSvcError):
    """No workflow with that id exists."""


class ExecutionNotFound(PraisonSvcError):
    """No execution with that id exists."""


class WorkflowNotRunnable(PraisonSvcError):
    """The workflow cannot be triggered in its current state; make it active and enabled first."""


class ExecutionFinished(PraisonSvcError):
    """The execution has already finished."""
