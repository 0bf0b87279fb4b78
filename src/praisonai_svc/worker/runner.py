"""The worker loop: poll with backoff, lease, run up to N jobs at once, reap, stop gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from dataclasses import dataclass, field

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend, open_backend
from praisonai_svc.errors import LeaseLost, StorageError
from praisonai_svc.events.consumers import install_consumers, prune_expired
from praisonai_svc.loader import preloader
from praisonai_svc.logs import get_logger
from praisonai_svc.observability.worker import start_worker_observers
from praisonai_svc.ports import JobQueue, QueueMessage
from praisonai_svc.registry import HandlerSpec
from praisonai_svc.services.control import BUSY_MAX_AGE_SECONDS
from praisonai_svc.services.runtime import ServiceRuntime
from praisonai_svc.services.state import ServiceState
from praisonai_svc.usage.runtime import metering
from praisonai_svc.worker.backoff import PollBackoff
from praisonai_svc.worker.defaults import default_concurrency
from praisonai_svc.worker.instances import KIND as INSTANCE_KIND
from praisonai_svc.worker.instances import beat, new_instance_id
from praisonai_svc.worker.processor import MessageProcessor
from praisonai_svc.worker.reaper import reap_stuck_jobs
from praisonai_svc.worker.recovery import sweep, sweep_due
from praisonai_svc.workflows.runtime import attach_workflows

log = get_logger("worker")
# At the longest poll back-off, the queues of built-in job services (workflow-execution, extract, webhook), mostly
# empty, are polled every this many idle cycles (every minute by default), and at once after a submit to them
# from this process (Backend.enqueue_listeners); the user's services are polled every cycle.
BUILTIN_IDLE_POLL_EVERY = 2
PRUNE_INTERVAL_SECONDS = 60.0  # a worker that handled jobs since its last prune removes expired event records
REFILL_WINDOW_SECONDS = 0.02  # the longest a free slot waits for others before the worker receives again
STOPPED_RELEASE_DELAY_SECONDS = 5.0  # jobs received for a service stopped meanwhile reappear after this


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

    def __init__(
        self, app: ServiceApp, backend: Backend | None = None, *, concurrency: int | None = None,
        runtime: ServiceRuntime | None = None,
    ) -> None:
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
        self._idle_cycles = 0  # poll cycles at the longest back-off
        self._hinted: set[str] = set()  # built-in queues this process submitted to since they were last polled
        self._runtime = runtime
        self._by_service: dict[str, set[asyncio.Task[None]]] = {}
        self._stop_timers: dict[str, asyncio.Task[None]] = {}
        self.abandoned: list[str] = []  # background services that did not stop in time (set by run)

    @property
    def runtime(self) -> ServiceRuntime:
        assert self._runtime is not None, "the worker has not started"
        return self._runtime

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
        workflows = attach_workflows(self.app, self.backend)  # file triggers; the scheduler leader's storage
        owns_runtime = self._runtime is None
        if self._runtime is None:
            self._runtime = ServiceRuntime(self.app, self.backend, "worker")
        self.runtime.job_states = self.job_states
        if owns_runtime:
            await self.runtime.start()
        uninstall = install_consumers(self.app, self.backend)
        if owns_runtime:  # an API's embedded worker leaves this to the API
            await self.app.events.outboxes.sweep(self.backend)  # durable events a crash left undelivered
        self.backend.enqueue_listeners.append(self._submitted)
        heartbeats = self.settings.worker_heartbeat_seconds > 0
        usage = contextlib.AsyncExitStack()
        processor = MessageProcessor(self.app, self.backend, config_of=self.runtime.service_config,
                                     instance_id=self.instance_id if heartbeats else None,
                                     meter=await usage.enter_async_context(metering(self.settings, self.backend)))
        await self.app.plugins.start(self.backend.blobs, self.settings, self.app.plugin_config_sections(),
                                     preload=preloader(self.app))
        background = [asyncio.create_task(self._reap_periodically(), name="reaper"),
                      asyncio.create_task(self._prune_periodically(), name="pruner")]
        if heartbeats:
            background.append(asyncio.create_task(self._heartbeat_periodically(), name="heartbeat"))
        observers = start_worker_observers(self.app, self.backend, lambda: self.stats.messages)
        log.info("worker started", extra={"services": list(self.app.services), "concurrency": self.concurrency,
                                          "backend": self.backend.kind})
        try:
            while not self._stop.is_set():
                await self._cycle(processor)
        finally:
            workflows()
            self.backend.enqueue_listeners.remove(self._submitted)
            for task in [*background, *self._stop_timers.values(), *observers]:
                task.cancel()
            await self._drain()
            await usage.aclose()  # the last flush of the usage counters, after the last job
            await self._forget_self()
            uninstall()
            if owns_runtime:
                self.abandoned = await self.runtime.close()
            await self.app.plugins.stop()
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
        active = await self._active_services()
        idle = self._backoff.current >= self._backoff.maximum
        self._idle_cycles += idle
        received = 0
        for spec in active:
            if spec.internal and idle and not self._builtin_due(spec.queue_name):
                continue
            room = min(free - received, self._room_for(spec))
            if free - received <= 0 or self._stop.is_set():
                break
            if room > 0:
                received += await self._poll(spec, room, processor)
        self._had_work = received > 0
        if received:
            self._backoff.after_work()
            return
        delay = self._backoff.next_delay()
        # Wake-ups come from a queue this worker polls; with every service stopped, just sleep.
        waiter = asyncio.ensure_future(
            self.backend.queue(active[0].queue_name).wait_for_work(delay) if active else asyncio.sleep(delay))
        stopper = asyncio.ensure_future(self._stop.wait())
        woken = asyncio.ensure_future(self._wake.wait())
        # A finishing job frees room for a service held back by its own concurrency cap: look again then.
        await asyncio.wait([waiter, stopper, woken, *self._tasks], return_when=asyncio.FIRST_COMPLETED)
        self._wake.clear()
        for pending in (waiter, stopper, woken):
            pending.cancel()

    async def _active_services(self) -> list[HandlerSpec]:
        """The job services whose queues this worker polls: not stopped as far as its control copy knows.

        A stopped service's queue is not polled at all, so its jobs stay queued. The copy may be old here; it
        is refreshed before a received job starts (:meth:`_may_start`), and, while a service is stopped, once
        per poll cycle at most every BUSY_MAX_AGE_SECONDS, so that a start reaches idle workers quickly too.
        """
        runtime = self.runtime
        if any(runtime.enabled(name) and not runtime.accepts_jobs(name) for name in self.app.services):
            await runtime.refresh_control(BUSY_MAX_AGE_SECONDS)
        active = [spec for spec in self.app.services.values() if self.runtime.accepts_jobs(spec.name)]
        for name, tasks in self._by_service.items():
            if tasks and not self.runtime.accepts_jobs(name) and name not in self._stop_timers:
                self._stop_timers[name] = asyncio.create_task(self._release_after_grace(name))
        return active

    def _builtin_due(self, queue_name: str) -> bool:
        """Whether an idle worker polls this built-in queue now: every BUILTIN_IDLE_POLL_EVERY idle cycles, or at
        once after this process submitted to it."""
        if queue_name in self._hinted:
            self._hinted.discard(queue_name)
            return True
        return self._idle_cycles % BUILTIN_IDLE_POLL_EVERY == 0

    def _submitted(self, queue_name: str) -> None:
        if any(spec.internal and spec.queue_name == queue_name for spec in self.app.services.values()):
            self._hinted.add(queue_name)
            self._wake.set()

    def _room_for(self, spec: HandlerSpec) -> int:
        if spec.concurrency is None:
            return self.concurrency
        return spec.concurrency - len(self._by_service.get(spec.name, ()))

    async def _release_after_grace(self, service: str) -> None:
        """A stopped service's running jobs get the shutdown grace to finish, then are released (not failed)."""
        try:
            await asyncio.sleep(self.settings.shutdown_grace_seconds)
            if not self.runtime.accepts_jobs(service):
                for task in list(self._by_service.get(service, ())):
                    task.cancel()  # the processor releases the job without spending an attempt
        finally:
            self._stop_timers.pop(service, None)

    def job_states(self) -> dict[str, ServiceState]:
        """Each job service's state in this worker: RUNNING (taking jobs), STOPPING (finishing), STOPPED."""
        states: dict[str, ServiceState] = {}
        for name in self.app.services:
            if self.runtime.accepts_jobs(name):
                states[name] = ServiceState.RUNNING
            else:
                states[name] = ServiceState.STOPPING if self._by_service.get(name) else ServiceState.STOPPED
        return states

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
            return 0
        if not await self._may_start(spec, queue, messages):
            return 0
        for message in messages:
            self._spawn(spec, message, processor)
        return len(messages)

    async def _may_start(self, spec: HandlerSpec, queue: JobQueue, messages: list[QueueMessage]) -> bool:
        """Whether ``spec`` may start the jobs just received, by a control copy at most BUSY_MAX_AGE_SECONDS old.

        The control state is read only here, with jobs in hand and a stale copy (piggyback on the poll): an
        idle worker never reads it for its polls, a busy one at most every few seconds. A stop therefore
        reaches every worker before its next job start, within BUSY_MAX_AGE_SECONDS. Jobs of a service stopped
        meanwhile go back to the queue untouched (still ``queued``, no attempt spent).
        """
        await self.runtime.refresh_control(BUSY_MAX_AGE_SECONDS)
        if self.runtime.accepts_jobs(spec.name):
            return True
        for message in messages:
            with contextlib.suppress(StorageError, LeaseLost):
                await queue.release(message, delay=STOPPED_RELEASE_DELAY_SECONDS)
        log.info("service stopped: received jobs go back to the queue", extra={"service": spec.name,
                                                                                "jobs": len(messages)})
        return False

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
        running = self._by_service.setdefault(spec.name, set())
        running.add(task)
        task.add_done_callback(running.discard)

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

    async def _forget_self(self) -> None:
        """A clean exit is not a crash: remove this instance's heartbeat so nobody sweeps for it."""
        await asyncio.gather(*self._tasks_aside, return_exceptions=True)
        if self._beating:
            with contextlib.suppress(StorageError):
                await self.backend.records.delete(INSTANCE_KIND, self.instance_id)

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
        """While holding jobs, record that this instance is alive; look for instances that stopped.

        An idle worker holds no lease anyone would need to recover, so it writes no heartbeat (a stale record of
        an idle worker is simply removed by the next sweep). It sweeps every heartbeat period only while it holds
        jobs or its last sweep saw another instance's record, else once a minute (recovery.sweep_due): an idle
        deployment costs one list request a minute, while a busy peer's crash is still recovered within
        3 beats + 1 beat by every worker that has seen it busy.
        """
        interval = self.settings.worker_heartbeat_seconds
        loop = asyncio.get_running_loop()
        last_sweep = -1e9
        saw_peers = False
        while True:
            busy = bool(self._tasks)
            if busy:
                await self._beat()
            if sweep_due(busy=busy, saw_peers=saw_peers, since_last=loop.time() - last_sweep, heartbeat=interval):
                last_sweep = loop.time()
                try:
                    result = await sweep(self.app, self.backend, self.instance_id)
                    saw_peers = result.peers > 0
                    if result.released:
                        self._backoff.after_work()
                        self._wake.set()
                except StorageError as exc:  # the lease stays the safety net
                    saw_peers = True  # look again at the next beat
                    log.warning("recovery sweep failed", extra={"error": str(exc)})
            await asyncio.sleep(interval)

    async def _prune_periodically(self) -> None:
        """Expired job events, cancel requests, webhook logs and tickets go (storage stays small).

        Only after this worker handled jobs since its last prune: an idle worker costs nothing here, and what
        expires while every worker is idle is removed by the ``pruner`` service (one per deployment).
        """
        pruned_at = self.stats.messages
        while True:
            await asyncio.sleep(PRUNE_INTERVAL_SECONDS)
            if self.stats.messages == pruned_at:
                continue
            pruned_at = self.stats.messages
            await prune_expired(self.backend)

    async def _reap_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reaper_interval_seconds)
            try:
                await reap_stuck_jobs(self.app, self.backend)
            except StorageError as exc:
                log.warning("reaper sweep failed", extra={"error": str(exc)})


async def run_worker(app: ServiceApp, *, concurrency: int | None = None) -> list[str]:
    """Run a worker in this process until SIGTERM/SIGINT; the services that had to be abandoned at shutdown."""
    worker = Worker(app, concurrency=concurrency)
    worker.install_signal_handlers()
    await worker.run()
    return worker.abandoned
