"""The worker loop: poll with backoff, lease, run up to N jobs at once, reap, stop gracefully.

Once backed off to the longest poll delay (idle), the worker no longer polls every queue each cycle. It reads
the cluster partition once per cycle (:mod:`praisonai_svc.cluster`: control state, leases, peers' heartbeats
and the submit hints in one request) and polls only the queues that have something for it: a hint newer than
its last poll of that queue (every submit rings one), a message it gave back with a delay that is visible
again, a service just started again, a submit from this process, a wake-up from its storage adapter (local:
a file touched on send) or from crash recovery. Besides, one queue in turn every
``PRAISONAI_WORKER_SAFETY_POLL_SECONDS`` (5 min) catches messages that appear without a hint (a hint write that
failed, another worker's delayed retry when that worker died meanwhile, a sender of an older version).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import time
from dataclasses import dataclass, field

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend, open_backend
from praisonai_svc.cluster import WORKER, ClusterSnapshot
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
from praisonai_svc.worker.defaults import Slots
from praisonai_svc.worker.instances import beat, new_instance_id, remove
from praisonai_svc.worker.processor import MessageProcessor
from praisonai_svc.worker.reaper import reap_stuck_jobs, stuck_after
from praisonai_svc.worker.recovery import IDLE_SWEEP_SECONDS, sweep, sweep_due
from praisonai_svc.workflows.runtime import attach_workflows

log = get_logger("worker")
_UNSEEN = "-"  # the hint tag of a queue this worker has not polled yet (never an etag)
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
        self.slots = Slots(app, concurrency)
        self.concurrency = self.slots.base  # the configured or default concurrency (short jobs may get more)
        self.stats = WorkerStats()
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._tasks_aside: set[asyncio.Task[None]] = set()  # heartbeats written outside the periodic loop
        self._backoff = PollBackoff(self.settings.worker_poll_interval_min, self.settings.worker_poll_interval_max)
        self._had_work = False  # the last receive returned messages
        self.instance_id = new_instance_id()
        self._beating = False  # a heartbeat record exists for this instance
        self._last_beat = -1e9  # monotonic time of the last heartbeat written
        self._wake = asyncio.Event()  # set when recovery made messages visible, or on a submit from this process
        self._poll_all = False  # the next cycle polls every queue (recovery released jobs, the adapter woke us)
        self._hinted: set[str] = set()  # queues this process submitted to since they were last polled
        self._hint_seen: dict[str, str | None] = {}  # queue → its hint tag when this worker last polled it
        self._due: dict[str, list[float]] = {}  # queue → when messages this worker delayed are visible (monotonic)
        self._started_again: set[str] = set()  # services started since the last poll of their queue
        self._active_names: set[str] = set()
        self._safety_turn = 0
        self._idle = False
        self._peer_seen = False  # a read of the cluster partition showed another worker's heartbeat record
        self._safety_next = time.monotonic() + self.settings.worker_safety_poll_seconds
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
        self.backend.cluster.subscribe(self._watch_peers)
        heartbeats = self.settings.worker_heartbeat_seconds > 0
        usage = contextlib.AsyncExitStack()
        processor = MessageProcessor(self.app, self.backend, config_of=self.runtime.service_config,
                                     instance_id=self.instance_id if heartbeats else None,
                                     meter=await usage.enter_async_context(metering(self.settings, self.backend)))
        processor.on_delayed_release = self._released_later
        processor.on_ran = self.slots.ran
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
            self.backend.cluster.unsubscribe(self._watch_peers)
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
        limit = self.slots.limit
        free = limit - len(self._tasks)
        if free <= 0:
            await asyncio.wait([*self._tasks, asyncio.ensure_future(self._stop.wait())],
                               return_when=asyncio.FIRST_COMPLETED)
            return
        if free < max(1, limit // 4) and self._had_work:  # only while the queue keeps delivering
            await self._let_slots_free_up(limit)
            free = limit - len(self._tasks)
        active = await self._active_services()
        # Idle, a worker polls by hints; without heartbeats (no crash recovery), it keeps polling every queue so that
        # a crashed worker's messages are found when their lease ends.
        idle = self._backoff.current >= self._backoff.maximum and self.settings.worker_heartbeat_seconds > 0
        if idle and not self._idle:
            log.debug("worker idle: queues are polled by their hints from now on")
        self._idle = idle
        received = 0
        for spec in await self._with_work(active) if idle else active:
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
        if idle:
            delay = min(delay, self._until_due())
        await self._wait(delay, active)

    async def _wait(self, delay: float, active: list[HandlerSpec]) -> None:
        """Sleep ``delay`` seconds, or less if work may have come (the adapter's signal, a local submit,
        recovery, a job ending that frees room for a service held back by its own concurrency cap)."""
        # Wake-ups come from a queue this worker polls; with every service stopped, just sleep.
        waiter = asyncio.ensure_future(
            self.backend.queue(active[0].queue_name).wait_for_work(delay) if active else asyncio.sleep(delay))
        stopper = asyncio.ensure_future(self._stop.wait())
        woken = asyncio.ensure_future(self._wake.wait())
        began = time.monotonic()
        await asyncio.wait([waiter, stopper, woken, *self._tasks], return_when=asyncio.FIRST_COMPLETED)
        if waiter.done() and time.monotonic() - began < delay * 0.9:
            self._poll_all = True  # the adapter says something was sent (it does not say where)
        self._wake.clear()
        for pending in (waiter, stopper, woken):
            pending.cancel()

    async def _with_work(self, active: list[HandlerSpec]) -> list[HandlerSpec]:
        """The queues an idle worker polls this cycle: those a hint, a due time, a restart or a local event
        points at, and one in turn every worker_safety_poll_seconds. Costs one read of the cluster partition (shared
        with the control state, the lease and the recovery sweep), none if something else read it this cycle."""
        try:
            snapshot = await self.backend.cluster.refresh(self._backoff.maximum * 0.9)
        except StorageError as exc:
            log.warning("cluster read failed; polling every queue", extra={"error": str(exc)})
            return active
        now = time.monotonic()
        safety: HandlerSpec | None = None
        if now >= self._safety_next and active:
            safety = active[self._safety_turn % len(active)]
            self._safety_turn += 1
            self._safety_next = now + self.settings.worker_safety_poll_seconds
        poll_all, self._poll_all = self._poll_all, False
        why = {spec.name: "woken" if poll_all else "safety" if spec is safety else self._reason(
            spec, snapshot.hint_tag(spec.queue_name), now) for spec in active}
        chosen = [spec for spec in active if why[spec.name]]
        if chosen:
            log.debug("idle poll", extra={"why": {name: reason for name, reason in why.items() if reason}})
        return chosen

    def _reason(self, spec: HandlerSpec, hint: str | None, now: float) -> str | None:
        """Why an idle worker polls ``spec``'s queue now (None: no reason to)."""
        queue = spec.queue_name
        if queue in self._hinted:
            return "local submit"
        if spec.name in self._started_again:
            return "started"
        if any(due <= now for due in self._due.get(queue, ())):
            return "due"
        if self._hint_seen.get(queue, _UNSEEN) != hint:
            return "hint"
        return None

    def _until_due(self) -> float:
        """Seconds until the first message this worker delayed is visible again (inf without one)."""
        dues = [due for queue_dues in self._due.values() for due in queue_dues]
        return max(min(dues) - time.monotonic(), 0.05) if dues else float("inf")

    def _released_later(self, queue_name: str, delay: float) -> None:
        """A message of ``queue_name`` is visible again in ``delay`` seconds: poll then, and 1 and 2 s after the
        whole second (Azure Queue counts visibility in whole seconds, which Azurite compares coarsely too)."""
        now = time.monotonic()
        whole = now + math.ceil(delay)
        self._due.setdefault(queue_name, []).extend([now + delay, whole + 1.0, whole + 2.0])

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
        names = {spec.name for spec in active}
        self._started_again |= names - self._active_names  # jobs queued while it was stopped: poll at once
        self._active_names = names
        for name, tasks in self._by_service.items():
            if tasks and not self.runtime.accepts_jobs(name) and name not in self._stop_timers:
                self._stop_timers[name] = asyncio.create_task(self._release_after_grace(name))
        return active

    def _submitted(self, queue_name: str) -> None:
        """A submit from this process: poll that queue at the next cycle (no need to wait for its hint)."""
        self._hinted.add(queue_name)
        self._wake.set()

    def _room_for(self, spec: HandlerSpec) -> int:
        if spec.concurrency is None:
            return self.slots.limit
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
        hint = self.backend.cluster.snapshot.hint_tag(spec.queue_name)  # read before this poll: a later one differs
        began = time.monotonic()
        try:
            messages = await queue.receive(count, self.settings.queue_visibility_timeout)
        except StorageError as exc:
            self.stats.poll_errors += 1
            log.warning("queue poll failed; backing off", extra={"service": spec.name, "error": str(exc)})
            return 0
        self._polled(spec, hint, began)
        if not messages:
            self.stats.empty_polls += 1
            return 0
        if not await self._may_start(spec, queue, messages):
            return 0
        for message in messages:
            self._spawn(spec, message, processor)
        return len(messages)

    def _polled(self, spec: HandlerSpec, hint: str | None, began: float) -> None:
        """What a poll of ``spec``'s queue has answered: its hint, its due messages, its restart, a local submit."""
        queue = spec.queue_name
        self._hint_seen[queue] = hint
        self._hinted.discard(queue)
        self._started_again.discard(spec.name)
        later = [due for due in self._due.pop(queue, ()) if due > began]
        if later:
            self._due[queue] = later

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
        self._released_later(spec.queue_name, STOPPED_RELEASE_DELAY_SECONDS)
        log.info("service stopped: received jobs go back to the queue", extra={"service": spec.name,
                                                                                "jobs": len(messages)})
        return False

    async def _let_slots_free_up(self, limit: int) -> None:
        """Wait up to REFILL_WINDOW_SECONDS for a quarter of the slots to be free, then receive for all of them.

        A busy worker whose jobs end one at a time would otherwise receive one message per finished job; taking
        them in larger groups lets their reads and writes share requests (batched reads, group commit).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REFILL_WINDOW_SECONDS
        while self._tasks and limit - len(self._tasks) < max(1, limit // 4) and not self._stop.is_set():
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
                await remove(self.backend, self.instance_id)

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

    def _watch_peers(self, snapshot: ClusterSnapshot) -> None:
        """Every read of the cluster partition (an idle poll cycle's) shows the busy workers' heartbeats: seeing
        another's, this worker watches for its crash every beat from now on (its jobs are released at once)."""
        if any(name != self.instance_id for name in snapshot.of(WORKER)):
            self._peer_seen = True

    async def _heartbeat_periodically(self) -> None:
        """While holding jobs, record that this instance is alive; look for instances that stopped.

        An idle worker holds no lease anyone would need to recover, so it writes no heartbeat (a stale record of
        an idle worker is simply removed by the next sweep). It sweeps every heartbeat period only while it holds
        jobs or its last sweep saw another instance's record, else once a minute (recovery.sweep_due), in the
        copy of the cluster partition its idle poll cycle reads anyway: an idle worker pays nothing for it,
        while a busy peer's crash is still recovered within 3 beats + 1 beat by every worker that has seen it
        busy.
        """
        interval = self.settings.worker_heartbeat_seconds
        loop = asyncio.get_running_loop()
        last_sweep = -1e9
        saw_peers = False
        while True:
            busy = bool(self._tasks)
            if busy:
                await self._beat()
            saw_peers, self._peer_seen = saw_peers or self._peer_seen, False
            if sweep_due(busy=busy, saw_peers=saw_peers, since_last=loop.time() - last_sweep, heartbeat=interval):
                last_sweep = loop.time()
                max_age = interval * 0.9 if busy or saw_peers else IDLE_SWEEP_SECONDS
                try:
                    result = await sweep(self.app, self.backend, self.instance_id, max_age=max_age)
                    saw_peers = result.peers > 0
                    if result.released:
                        self._backoff.after_work()
                        self._poll_all = True
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
        """Look for stuck rows once an interval after the start (a predecessor's), then only while a row this
        worker may have left behind can still become stuck: an idle worker costs no request here."""
        interval = self.settings.reaper_interval_seconds
        handled, worked_at, first = self.stats.messages, float("-inf"), True
        while True:
            await asyncio.sleep(interval)
            if self.stats.messages != handled:
                handled, worked_at = self.stats.messages, time.monotonic()
            if not first and time.monotonic() - worked_at > stuck_after(self.app) + interval:
                continue
            first = False
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
