"""Keeps a queue message leased while its job runs, always holding the newest pop receipt."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from praisonai_svc.errors import LeaseLost, StorageError
from praisonai_svc.logs import JobLogger
from praisonai_svc.ports import JobQueue, QueueMessage


class LeaseKeeper:
    """Renews every third of the visibility timeout.

    Stopping waits for an in-flight renewal instead of cancelling it: a cancelled renewal could still land in
    storage with a receipt we never saw, and every later ack would then fail.
    """

    def __init__(
        self, queue: JobQueue, message: QueueMessage, visibility: float, log: JobLogger,
        on_renewed: Callable[[QueueMessage], Awaitable[None]] | None = None,
    ) -> None:
        self.queue = queue
        self._on_renewed = on_renewed
        self.message = message
        self.visibility = visibility
        self.lost = False
        self._log = log
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"lease-{self.message.job_id[:8]}")

    async def _run(self) -> None:
        interval = max(self.visibility / 3, 0.2)
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval)
                return
            try:
                self.message = await self.queue.renew(self.message, self.visibility)
                if self._on_renewed is not None:
                    await self._on_renewed(self.message)
            except LeaseLost:
                self.lost = True
                self._log.error("lease lost: another worker may run this job")
                return
            except StorageError as exc:
                self._log.warning("lease renewal failed, will retry", extra={"error": str(exc)})
                interval = max(self.visibility / 6, 0.2)

    async def stop(self) -> QueueMessage:
        """Stop renewing; return the message with the newest receipt."""
        self._stopping.set()
        if self._task is not None:
            await asyncio.shield(self._task)
        return self.message
