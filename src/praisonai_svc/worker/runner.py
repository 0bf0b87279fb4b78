"""The worker loop: poll with backoff, lease, run up to N jobs at once, reap, stop gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from dataclasses import dataclass, field

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend, open_backend
from praisonai_svc.errors import StorageError
from praisonai_svc.logs import get_logger
from praisonai_svc.observability.worker import start_worker_observers
from praisonai_svc.ports import JobQueue, QueueMessage
from praisonai_svc.registry import HandlerSpec
from praisonai_svc.worker.backoff import PollBackoff
from praisonai_svc.worker.defaults import default_concurrency
from praisonai_svc.worker.instances import KIND as INSTANCE_KIND
from praisonai_svc.worker.instances import beat, new_instance_id
from praisonai_svc.worker.processor import MessageProcessor
from praisonai_svc.worker.reaper import reap_stuck_jobs
from praisonai_svc.worker.recovery import recover_dead_instances

log = get_logger("worker")
IDLE_SWEEP_BEATS = 3  # an idle worker looks for stopped instances every this many heartbeat periods
REFILL_WINDOW_SECONDS = 0.02  # the longest a free slot waits for others before the worker receives again


@dataclass
class WorkerStats:
    polls: int = 0
    empty_polls: int = 0
    messages: int = 0
    poll_errors: int = 0
    running: int = 0
    by_service: dict[str, int] = field(default_factory=dict)


class Worker:
    """Runs jobs from every service's queue. ``await worker.run()`` until ``worker.stop()`` (or SIGTERM)."""

    def __init__(self, app: ServiceApp, backend: Backend | None = None, *, concurrency: int | None = None) -> None:
        self.app = app
        self.settings = app.settings
        self._backend = backend
        self.concurrency = concurrency or default_concurrency(app)
        self.stats = WorkerStats()
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._tasks_aside: set[asyncio.Task[None]] = set()  # heartbeats written outside the periodic loop
        self._backoff = PollBackoff(self.settings.worker_poll_interval_min, self.settings.worker_poll_interval_max)
        self._refill_batch = max(1, self.concurrency // 4)
        self._had_work = False  # the last receive returned messages
        self.instance_id = new_instance_id()
        self._beating = False  # a heartbeat record exists for this instance
        self._last_beat = -1e9  # monotonic time of the last heartbeat written
        self._wake = asyncio.Event()  # set when recovery made messages visible: poll at once

    @property
    def backend(self) -> Backend:
        assert self._backend is not None, "the worker has not started"
        return self._backend

    def stop(self) -> None:
        """Stop receiving; running jobs get the shutdown grace period to finish."""
        self._stop.set()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)

    async def run(self) -> None:
        owns_backend = self._backend is None
        if self._backend is None:
            self._backend = await open_backend(self.settings)
        heartbeats = self.settings.worker_heartbeat_seconds > 0
        processor = MessageProcessor(self.app, self.backend, self.instance_id if heartbeats else None)
        reaper = asyncio.create_task(self._reap_periodically(), name="reaper")
        keeper = asyncio.create_task(self._heartbeat_periodically(), name="heartbeat") if heartbeats else None
        observers = start_worker_observers(self.app, self.backend, lambda: self.stats.messages)
        log.info("worker started", extra={"services": list(self.app.services), "concurrency": self.concurrency,
                                          "backend": self.backend.kind})
        try:
            while not self._stop.is_set():
                await self._cycle(processor)
        finally:
            reaper.cancel()
            if keeper is not None:
                keeper.cancel()
            for observer in observers:
                observer.cancel()
            await self._drain()
            await asyncio.gather(*self._tasks_aside, return_exceptions=True)
            if heartbeats and self._beating:
                with contextlib.suppress(StorageError):  # a clean exit is not a crash: nothing to recover
                    await self.backend.records.delete(INSTANCE_KIND, self.instance_id)
            if owns_backend:
                await self.backend.close()
            log.info("worker stopped", extra={"messages": self.stats.messages})

    async def _cycle(self, processor: MessageProcessor) -> None:
        free = self.concurrency - len(self._tasks)
        if free <= 0:
            await asyncio.wait([*self._tasks, asyncio.ensure_future(self._stop.wait())],
                               return_when=asyncio.FIRST_COMPLETED)
            return
        if free < self._refill_batch and self._had_work:  # only while the queue keeps delivering
            await self._let_slots_free_up()
            free = self.concurrency - len(self._tasks)
        received = 0
        for spec in list(self.app.services.values()):
            if free - received <= 0 or self._stop.is_set():
                break
            received += await self._poll(spec, free - received, processor)
        self._had_work = received > 0
        if received:
            self._backoff.after_work()
            return
        delay = self._backoff.next_delay()
        queue = self.backend.queue(next(iter(self.app.services.values())).queue_name)
        waiter = asyncio.ensure_future(queue.wait_for_work(delay))
        stopper = asyncio.ensure_future(self._stop.wait())
        woken = asyncio.ensure_future(self._wake.wait())
        await asyncio.wait([waiter, stopper, woken], return_when=asyncio.FIRST_COMPLETED)
        self._wake.clear()
        for pending in (waiter, stopper, woken):
            pending.cancel()

    async def _poll(self, spec: HandlerSpec, count: int, processor: MessageProcessor) -> int:
        queue = self.backend.queue(spec.queue_name)
        self.stats.polls += 1
        try:
            messages = await queue.receive(count, self.settings.queue_visibility_timeout)
        except StorageError as exc:
            self.stats.poll_errors += 1
            log.warning("queue poll failed; backing off", extra={"service": spec.name, "error": str(exc)})
            return 0
        if not messages:
            self.stats.empty_polls += 1
        for message in messages:
            self._spawn(spec, message, processor)
        return len(messages)

    async def _let_slots_free_up(self) -> None:
        """Wait up to REFILL_WINDOW_SECONDS for a quarter of the slots to be free, then receive for all of them.

        A busy worker whose jobs end one at a time would otherwise receive one message per finished job; taking
        them in larger groups lets their reads and writes share requests (batched reads, group commit).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REFILL_WINDOW_SECONDS
        while self._tasks and self.concurrency - len(self._tasks) < self._refill_batch and not self._stop.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            await asyncio.wait(set(self._tasks), timeout=remaining, return_when=asyncio.FIRST_COMPLETED)

    def _spawn(self, spec: HandlerSpec, message: QueueMessage, processor: MessageProcessor) -> None:
        if processor.instance_id and time.monotonic() - self._last_beat > self.settings.worker_heartbeat_seconds:
            self._beat_soon()  # idle until now: be known as alive before anyone can see this job processing
        self.stats.messages += 1
        self.stats.by_service[spec.name] = self.stats.by_service.get(spec.name, 0) + 1
        queue = self.backend.queue(spec.queue_name)
        task = asyncio.create_task(self._guarded(processor, spec, queue, message), name=f"job-{message.job_id[:8]}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guarded(processor: MessageProcessor, spec: HandlerSpec, queue: JobQueue, message: QueueMessage) -> None:
        try:
            await processor.process(spec, queue, message)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Storage failed mid-job: the message is not acked, so it reappears and the job is retried.
            log.exception("job processing interrupted; the message will be redelivered",
                          extra={"service": spec.name, "job_id": message.job_id})

    async def _drain(self) -> None:
        if not self._tasks:
            return
        grace = self.settings.shutdown_grace_seconds
        log.info("waiting for running jobs", extra={"running": len(self._tasks), "grace_s": grace})
        _done, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()  # the processor releases the job without spending an attempt
        if pending:
            await asyncio.wait(pending, timeout=30)

    def _beat_soon(self) -> None:
        self._last_beat = time.monotonic()
        task = asyncio.create_task(self._beat(), name="heartbeat-now")
        self._tasks_aside.add(task)
        task.add_done_callback(self._tasks_aside.discard)

    async def _beat(self) -> None:
        self._last_beat = time.monotonic()
        try:
            await beat(self.backend, self.instance_id)
            self._beating = True
        except StorageError as exc:  # the lease stays the safety net
            log.warning("heartbeat failed", extra={"error": str(exc)})

    async def _heartbeat_periodically(self) -> None:
        """While holding jobs, record that this instance is alive and look for instances that stopped.

        An idle worker holds no lease anyone would need to recover, so it writes no heartbeat (a stale record of
        an idle worker is simply removed by the next sweep), and it sweeps only every three heartbeat periods: a
        peer's crash is still recovered when every other worker is idle (within about twice the dead time),
        while an idle worker costs 10 storage reads a minute instead of 30.
        """
        interval = self.settings.worker_heartbeat_seconds
        loop = asyncio.get_running_loop()
        last_sweep = -1e9
        while True:
            busy = bool(self._tasks)
            if busy:
                await self._beat()
            if busy or loop.time() - last_sweep >= IDLE_SWEEP_BEATS * interval:
                last_sweep = loop.time()
                try:
                    if await recover_dead_instances(self.app, self.backend, self.instance_id):
                        self._backoff.after_work()
                        self._wake.set()
                except StorageError as exc:  # the lease stays the safety net
                    log.warning("recovery sweep failed", extra={"error": str(exc)})
            await asyncio.sleep(interval)

    async def _reap_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reaper_interval_seconds)
            try:
                await reap_stuck_jobs(self.app, self.backend)
            except StorageError as exc:
                log.warning("reaper sweep failed", extra={"error": str(exc)})


async def run_worker(app: ServiceApp, *, concurrency: int | None = None) -> None:
    """Run a worker in this process until SIGTERM/SIGINT."""
    worker = Worker(app, concurrency=concurrency)
    worker.install_signal_handlers()
    await worker.run()
