"""One storage call for the calls that many jobs make in the same event-loop turn.

Jobs received together start together: their reads, their ``processing`` writes and, under load, their outcome
writes and acks land in the same loop turn, or while the previous batch of the same kind is in flight. A
:class:`TurnBatcher` collects them and makes one batched port call (``JobStore.get_many`` / ``update_many``,
``JobQueue.ack_many``): one SQLite transaction, or one range query / entity-group batch on Azure, instead of one
per job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from praisonai_svc.errors import JobNotFound, LeaseLost
from praisonai_svc.models.job import Job
from praisonai_svc.ports import JobQueue, JobStore, QueueMessage

T = TypeVar("T")
R = TypeVar("R")
MAX_BATCH = 500


class TurnBatcher(Generic[T, R]):
    """``await submit(item)`` answers with ``run([...])``'s result for that item (an Exception result is raised).

    ``run`` gets every item submitted during one loop turn, or while the previous batch ran (one batch at a time;
    at most ``MAX_BATCH`` items), and returns one result per item, in order. If ``run`` itself raises, every
    caller of that batch gets the error.
    """

    def __init__(self, run: Callable[[list[T]], Awaitable[Sequence[R | Exception]]]) -> None:
        self._run = run
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._running: set[asyncio.Future[None]] = set()

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if len(self._pending) == 1 and not self._running:
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        """Start one batch; what arrives while it runs waits for it and goes into the next (group commit)."""
        if self._running or not self._pending:
            return
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        task = asyncio.ensure_future(self._answer(batch))
        self._running.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[None]) -> None:
        self._running.discard(task)
        if self._pending:
            self._flush()

    async def _answer(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run([item for item, _future in batch])
        except Exception as exc:
            for _item, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:
            for _item, future in batch:
                future.cancel()
            raise
        for (_item, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)


class JobBatches:
    """The batched job reads and writes and per-queue acks of one worker."""

    def __init__(self, jobs: JobStore) -> None:
        self._jobs = jobs
        self.get: Callable[[str], Awaitable[Job]] = TurnBatcher(self._get_many).submit
        self.update: Callable[[Job], Awaitable[Job]] = TurnBatcher(jobs.update_many).submit
        self._acks: dict[int, TurnBatcher[QueueMessage, bool]] = {}

    async def _get_many(self, job_ids: list[str]) -> list[Job | Exception]:
        found = await self._jobs.get_many(job_ids)
        return [found.get(job_id) or JobNotFound() for job_id in job_ids]

    async def ack(self, queue: JobQueue, message: QueueMessage) -> None:
        """Delete the message; :class:`LeaseLost` if its receipt was stale (like :meth:`JobQueue.ack`)."""
        batcher = self._acks.get(id(queue))
        if batcher is None:
            batcher = self._acks[id(queue)] = TurnBatcher(queue.ack_many)
        if not await batcher.submit(message):
            raise LeaseLost()
