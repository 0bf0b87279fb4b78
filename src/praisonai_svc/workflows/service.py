"""The built-in ``workflow-execution`` job service: one durable job per execution, run a slice at a time.

Each slice runs on the worker's event loop (a built-in service) and either finishes the execution or raises
:class:`~praisonai_svc.errors.JobDeferred`, which gives the job back to the queue with a delay: waiting for a
child job, an extraction or a ``delay`` step never holds a worker slot. A crash counts as an attempt like any
job's; the engine then resumes at the first unfinished step.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from praisonai_svc.errors import ConfigError, JobDeferred
from praisonai_svc.registry import make_spec
from praisonai_svc.workflows.gateways import Gateways

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp
    from praisonai_svc.context import JobContext

EXECUTION_SERVICE = "workflow-execution"
EXECUTION_JOB_ATTEMPTS = 10  # crashes (kill -9) a single execution survives; step failures retry in the engine


def execution_job_id(execution_id: str) -> str:
    return hashlib.sha256(f"workflow-execution\x00{execution_id}".encode()).hexdigest()[:32]


def gateways_for(app: ServiceApp) -> Gateways:
    """The app's outbound HTTP and files, as the steps see them (built once per app)."""
    existing = getattr(app, "_workflow_gateways", None)
    if isinstance(existing, Gateways):
        return existing
    from praisonai_svc.workflows.bridges import build_gateways

    gateways = build_gateways(app)
    app._workflow_gateways = gateways  # type: ignore[attr-defined]
    return gateways


def register_workflow_service(app: ServiceApp) -> None:
    """Host ``workflow-execution`` and keep executions only as long as PRAISONAI_EXECUTION_RETENTION."""

    async def workflow_execution(payload: dict[str, Any], context: JobContext) -> tuple[bytes, str, str]:
        """Runs workflow executions (built in; start them through /workflows)."""
        from praisonai_svc.workflows.engine import ExecutionEngine

        backend = context._backend
        if backend is None:
            raise ConfigError("workflow-execution runs only inside a worker (it needs the worker's backend).")
        engine = ExecutionEngine(app, backend, gateways_for(app), context.logger)
        wait = await engine.advance(str(payload["execution_id"]))
        if wait is not None:
            raise JobDeferred(wait)
        summary = {"execution_id": payload["execution_id"]}
        return json.dumps(summary).encode(), "application/json", "execution.json"

    spec = make_spec(workflow_execution, EXECUTION_SERVICE, EXECUTION_SERVICE, max_attempts=EXECUTION_JOB_ATTEMPTS)
    app.add_builtin(spec)
    app.retention.track("execution")
    from praisonai_svc.workflows.runtime import register_scheduler

    register_scheduler(app)
