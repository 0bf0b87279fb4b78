"""What a process runs for workflows: the file-trigger subscriptions and, where it is hosted, the cron scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.workflows.file_triggers import install_file_triggers
from praisonai_svc.workflows.scheduler import CronScheduler


def instance_name(role: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{role}"


class WorkflowRuntime:
    """``await start()`` when the process has opened its backend, ``await stop()`` before closing it."""

    def __init__(self, app: ServiceApp, backend: Backend, *, role: str, scheduler: bool) -> None:
        self.app = app
        self.backend = backend
        self.scheduler = CronScheduler(app, backend, instance=instance_name(role)) if scheduler else None
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe = install_file_triggers(app, backend)

    async def start(self) -> None:
        if self.scheduler is not None:
            self._task = asyncio.create_task(self.scheduler.run(), name="workflow-scheduler")
        self.app.workflow_scheduler = self.scheduler  # type: ignore[attr-defined]

    async def stop(self) -> None:
        self._unsubscribe()
        if self.scheduler is not None and self._task is not None:
            self.scheduler.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout=15)
