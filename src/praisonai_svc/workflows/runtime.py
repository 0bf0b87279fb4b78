"""What a process runs for workflows: the file-trigger subscriptions, and the cron scheduler as a leader service.

The scheduler is the background service ``workflow-scheduler`` (``runs_on="one"``): the services feature elects one
process of the deployment to run it (a lease) and starts it there; :func:`attach_workflows` hands it this
process's storage first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from praisonai_svc.services import Service
from praisonai_svc.workflows.file_triggers import install_file_triggers

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp
    from praisonai_svc.backend import Backend
    from praisonai_svc.workflows.scheduler import CronScheduler

SCHEDULER_SERVICE = "workflow-scheduler"


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class SchedulerService(Service):
    """Fires cron triggers (praisonai_svc.workflows.scheduler); one process of the deployment runs it."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name or SCHEDULER_SERVICE)
        self.app: ServiceApp | None = None
        self.backend: Backend | None = None
        self.scheduler: CronScheduler | None = None
        self._task: asyncio.Task[None] | None = None

    def bind(self, app: ServiceApp, backend: Backend) -> None:
        self.app, self.backend = app, backend

    async def start(self) -> None:
        from praisonai_svc.workflows.scheduler import CronScheduler

        if self.app is None or self.backend is None:
            raise RuntimeError("workflow-scheduler started before attach_workflows gave it storage")
        self.scheduler = CronScheduler(self.app, self.backend, instance=instance_name())
        self._task = asyncio.create_task(self.scheduler.run(), name=SCHEDULER_SERVICE)

    def details(self) -> dict[str, object] | None:
        return self.scheduler.details() if self.scheduler is not None else None

    async def stop(self) -> None:
        if self.scheduler is not None and self._task is not None:
            self.scheduler.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout=15)
        self._task = None


def register_scheduler(app: ServiceApp) -> None:
    app.register_service(SchedulerService, SCHEDULER_SERVICE, runs_on="one")


def attach_workflows(app: ServiceApp, backend: Backend) -> Callable[[], None]:
    """Subscribe this process's file events to workflows; returns the undo. (The scheduler service gets its
    storage from the services runtime, which calls :meth:`SchedulerService.bind`.)"""
    return install_file_triggers(app, backend)
