"""Keeps a queue message leased while its job runs, always holding the newest pop receipt."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from praisonai_svc.errors import LeaseLost, StorageError
from praisonai_svc.logs import JobLogger
from praisonai_svc.ports import JobQueue, QueueMessage


class LeaseKeeper:
    """Renews every third of the visibility timeout.

    A job shorter than that (most) costs one timer, no task: a renewal task starts only when one is due.
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
        self._stopping = False
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._schedule(max(self.visibility / 3, 0.2))

    def _schedule(self, delay: float) -> None:
        if not self._stopping:
            self._timer = asyncio.get_running_loop().call_later(delay, self._due)

    def _due(self) -> None:
        self._timer = None
        if not self._stopping:
            self._task = asyncio.ensure_future(self._renew())

    async def _renew(self) -> None:
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
            self._schedule(max(self.visibility / 6, 0.2))
            return
        self._schedule(max(self.visibility / 3, 0.2))

    async def stop(self) -> QueueMessage:
        """Stop renewing; return the message with the newest receipt."""
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            await asyncio.shield(self._task)
        return self.message
