"""Issue 12's idle cost, by counting storage requests (no timed assertions): what an idle process asks of storage.

The figures on Azurite are printed by bench/bench_services.py (``--only idle --breakdown``); these tests pin the
rules that make them small: one read of the cluster partition per idle cycle and no queue poll without a hint,
a due time, a restart or the slow safety poll; the dead-instance sweep from that read; one lease for every
leader service, renewed with the leader's heartbeat in it; a follower that watches the lease for free; the
pruner's back-off.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from praisonai_svc import ServiceApp
from praisonai_svc.adapters.memory import MemoryJobQueue
from praisonai_svc.backend import Backend, memory_backend
from praisonai_svc.cluster import KIND as CLUSTER_KIND
from praisonai_svc.cluster import SubmitHints
from praisonai_svc.job_service import JobService
from praisonai_svc.models.job import JobRequest, JobStatus
from praisonai_svc.retention.service import IDLE_INTERVAL_FACTOR, INITIAL_WAIT_FACTOR, next_wait
from praisonai_svc.services import Service, list_instances
from praisonai_svc.services.leader import LeaderLease
from praisonai_svc.services.runtime import ServiceRuntime
from praisonai_svc.settings import Settings
from praisonai_svc.worker import Worker
from praisonai_svc.worker.instances import beat
from praisonai_svc.worker.recovery import IDLE_SWEEP_SECONDS, sweep, sweep_due
from praisonai_svc.workflows.service import EXECUTION_SERVICE as WORKFLOW_SERVICE
from tests.support.counting import Counting


def count_receives(backend: Backend, then: Callable[[Counter[str]], None] = lambda counts: None) -> Counter[str]:
    counts: Counter[str] = Counter()
    make = backend.queue_factory

    def counting_queue(name: str) -> Any:
        queue = make(name)
        receive = queue.receive

        async def counted(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            then(counts)
            return await receive(*args, **kwargs)

        queue.receive = counted  # type: ignore[method-assign]
        return queue

    backend.queue_factory = counting_queue
    return counts


def simulated_sweeps(minutes: float, *, busy: bool, saw_peers: bool, beat_seconds: float = 2.0) -> int:
    """Sweeps a worker's heartbeat loop makes in ``minutes`` of simulated time (it wakes once per beat)."""
    now, last, sweeps = 0.0, -1e9, 0
    while now < minutes * 60:
        if sweep_due(busy=busy, saw_peers=saw_peers, since_last=now - last, heartbeat=beat_seconds):
            sweeps, last = sweeps + 1, now
        now += beat_seconds
    return sweeps


def test_an_idle_worker_sweeps_once_a_minute_and_a_busy_one_every_beat() -> None:
    assert simulated_sweeps(60, busy=False, saw_peers=False) <= 60 * 60 / IDLE_SWEEP_SECONDS + 1
    assert simulated_sweeps(1, busy=True, saw_peers=False) == 30  # every 2 s beat: recovery within 3 + 1 beats
    assert simulated_sweeps(1, busy=False, saw_peers=True) == 30  # a peer holds jobs: watched every beat too


async def test_a_sweep_reports_other_instances_and_forgets_a_dead_idle_one() -> None:
    app = ServiceApp("Sweep", settings=Settings(_env_file=None), backend=memory_backend())  # type: ignore[call-arg]
    backend = app.backend
    assert backend is not None
    assert (await sweep(app, backend, "me")).peers == 0
    await beat(backend, "me")
    assert (await sweep(app, backend, "me")).peers == 0  # its own record is no reason to look again soon
    await beat(backend, "peer")
    assert (await sweep(app, backend, "me")).peers == 1  # alive: look again at the next beat
    record = await backend.records.find(CLUSTER_KIND, "worker:peer")
    assert record is not None
    await backend.records.replace(record.evolve(body={**record.body, "last_seen": time.time() - 60}, etag=None))
    found = await sweep(app, backend, "me")
    assert (found.peers, found.released) == (1, 0)  # dead, held nothing: its record goes
    assert (await sweep(app, backend, "me")).peers == 0  # back to once a minute


async def test_one_lease_renewal_covers_every_leader_service_and_carries_the_heartbeat(tmp_path: Path) -> None:
    class Quiet(Service):
        async def start(self) -> None:
            pass

        async def stop(self) -> None:
            pass

    shared = memory_backend()
    (tmp_path / "praisonai.yaml").write_text("")
    runtimes = []
    for index in range(2):
        settings = Settings(_env_file=None, data_dir=tmp_path / str(index))  # type: ignore[call-arg]
        app = ServiceApp(f"Leaders{index}", settings=settings, backend=shared,
                         config_file=tmp_path / "praisonai.yaml")
        app.register_service(Quiet, "first", runs_on="one")
        app.register_service(Quiet, "second", runs_on="one")
        backend = Backend("memory", shared.jobs, shared.blobs, shared.queue_factory, shared.records)  # a process
        runtimes.append(ServiceRuntime(app, backend, "worker"))
    leader, follower = runtimes
    assert set(leader.leases) == {"first", "second", "pruner", "workflow-scheduler"}
    assert len({id(lease) for lease in leader.leases.values()}) == 1
    assert await leader.lease.claim()
    assert not await follower.lease.claim()
    page = await shared.records.list(CLUSTER_KIND, limit=10)
    assert [record.id for record in page.records] == ["lease:service:*"]  # one record for the four services
    counted = Counting(shared.records)
    leader.lease.records = counted  # type: ignore[assignment]
    assert await leader.lease.claim()  # a renewal: one conditional replace, with the leader's heartbeat in it
    assert dict(counted.calls) == {"replace": 1}
    listing = await list_instances(shared.records, heartbeat_seconds=60)
    assert [i.instance_id for i in listing.live] == [leader.instance.instance_id]  # known from the lease alone
    assert leader.lease.renew_every == 45  # 15 s before the expiry of the 60 s lease: 1.33 writes a minute


async def test_a_follower_takes_over_an_expired_lease_and_a_released_one() -> None:
    records = memory_backend().records
    dead = LeaderLease(records, "*", "dead", ttl=3)
    follower = LeaderLease(records, "*", "follower", ttl=3)
    assert await dead.claim()
    assert not await follower.claim()
    stored = await records.find(CLUSTER_KIND, "lease:service:*")
    assert stored is not None
    await records.replace(stored.evolve(body={**stored.body, "expires_at": time.time() - 1}))  # it died
    assert await follower.claim()
    await follower.release()
    assert await dead.claim()  # a released lease is free again


async def test_a_follower_watches_a_live_leader_without_a_request_of_its_own() -> None:
    shared = memory_backend()
    counted = Counting(shared.records)
    leader = LeaderLease(shared.records, "*", "leader", ttl=60)
    follower_view = Backend("memory", shared.jobs, shared.blobs, shared.queue_factory, counted).cluster  # type: ignore[arg-type]
    follower = LeaderLease(counted, "*", "follower", ttl=60, cluster=follower_view)  # type: ignore[arg-type]
    assert await leader.claim()
    for _ in range(5):  # a minute of poll cycles: each reads the partition once, for everything
        await follower_view.refresh(0)
        assert await leader.claim()
    assert dict(counted.calls) == {"list": 5}
    assert follower.seen.holder == "leader" and follower.next_claim_in() > 30  # nothing due: no claim, no read


def test_the_pruner_backs_off_after_empty_runs_and_returns_after_work() -> None:
    interval = 300.0
    waits, wait = [], interval * INITIAL_WAIT_FACTOR  # what the pruner's loop starts from
    for _ in range(4):
        wait = next_wait(interval, wait, removed=0)
        waits.append(wait)
    assert waits == [1200, 2400, 3600, 3600]  # an idle pruner runs 10 s after election, then after 20 min, 40, 60
    assert max(waits) == interval * IDLE_INTERVAL_FACTOR
    assert next_wait(interval, 3600, removed=3) == interval
    assert next_wait(3600, 1800, removed=0) == 3600  # never below the interval, never above max(interval, 1 h)


class SleepingQueue(MemoryJobQueue):
    """A memory queue without the free wake-up signal (like Azure Queue): an idle worker learns of new messages
    only from the submit hints. Its receives are written down in ``polls`` (queue name, messages received)."""

    def __init__(self, name: str, polls: list[tuple[str, int]]) -> None:
        super().__init__()
        self.name, self.polls = name, polls

    async def receive(self, max_messages: int, visibility_timeout: float) -> Any:
        messages = await super().receive(max_messages, visibility_timeout)
        self.polls.append((self.name, len(messages)))
        return messages

    async def wait_for_work(self, timeout: float) -> None:
        await asyncio.sleep(timeout)


def idle_settings(**values: Any) -> Settings:
    return Settings(_env_file=None, worker_poll_interval_min=0.01, worker_poll_interval_max=0.02,  # type: ignore[call-arg]
                    **values)


class Processes:
    """An app whose worker and whose submitter are two processes on one memory storage: two Backend objects, so
    no in-process signal passes between them. The worker's polls are written down in order (``polls``)."""

    def __init__(self, name: str, settings: Settings) -> None:
        queues: dict[str, MemoryJobQueue] = {}
        self.polls: list[tuple[str, int]] = []

        def queue(queue_name: str) -> MemoryJobQueue:
            return queues.setdefault(queue_name, SleepingQueue(queue_name, self.polls))

        shared = memory_backend()
        self.backend = Backend("memory", shared.jobs, shared.blobs, queue, shared.records)
        self.submitter = Backend("memory", shared.jobs, shared.blobs, queue, shared.records)
        self.app = app = ServiceApp(name, settings=settings, backend=self.backend)
        failed: set[str] = set()

        @app.job("work")
        def work(payload: dict[str, Any]) -> tuple[bytes, str, str]:
            if payload.get("fail_once") and "once" not in failed:
                failed.add("once")
                raise RuntimeError("first attempt fails")
            return b"w", "text/plain", "w.txt"

    async def submit(self, payload: dict[str, Any]) -> str:
        """Submit from the other process; the job id."""
        submission = await JobService(self.app, self.submitter).submit(JobRequest(payload=payload, service="work"))
        return submission.job.job_id


async def until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.01)


async def job_status(backend: Backend, job_id: str) -> JobStatus:
    return (await backend.jobs.get(job_id)).status


async def wait_done(backend: Backend, job_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while await job_status(backend, job_id) is not JobStatus.DONE:
        assert time.monotonic() < deadline, f"job {job_id} never finished"
        await asyncio.sleep(0.02)


async def idle_worker(app: ServiceApp, backend: Backend) -> tuple[Worker, asyncio.Task[None]]:
    """A worker started and backed off to its longest poll delay, whose idle cycles have begun."""
    worker = Worker(app, backend)
    running = asyncio.create_task(worker.run())
    await until(lambda: worker._backoff.current >= worker._backoff.maximum, "the worker never backed off")
    reads = backend.cluster.reads
    await until(lambda: backend.cluster.reads >= reads + 2, "the worker's idle cycles never began")
    return worker, running


async def test_an_idle_worker_reads_the_partition_once_a_cycle_and_polls_only_a_hinted_queue() -> None:
    two = Processes("Idle", idle_settings())
    backend = two.backend
    worker, running = await idle_worker(two.app, backend)
    try:
        polled, reads = len(two.polls), backend.cluster.reads
        await until(lambda: backend.cluster.reads >= reads + 20, "the worker stopped cycling")
        assert len(two.polls) == polled  # twenty idle cycles, one partition read each, and no queue poll

        # A submit from another process rings the queue's doorbell: the idle worker polls that queue, and gets it.
        await wait_done(backend, await two.submit({"n": 1}))
        assert two.polls[polled] == (two.app.services["work"].queue_name, 1)
    finally:
        worker.stop()
        await running


async def test_a_message_without_a_hint_is_found_by_the_safety_poll_and_a_delayed_retry_when_due() -> None:
    two = Processes("Unhinted", idle_settings(worker_safety_poll_seconds=0.5, retry_backoff_seconds=0.3))
    two.submitter.hints.ring = lambda queue: None  # type: ignore[method-assign]  # a sender that rings no bell
    worker, running = await idle_worker(two.app, two.backend)
    try:
        await wait_done(two.backend, await two.submit({"n": 2}))  # no hint, no signal: the safety poll finds it

        # A failed attempt goes back with a delay; the worker that gave it back polls its queue when it is due.
        retried = await two.submit({"fail_once": True})
        await wait_done(two.backend, retried)
        assert (await two.backend.jobs.get(retried)).attempts == 2
    finally:
        worker.stop()
        await running


async def test_idle_polls_say_why_each_queue_is_polled() -> None:
    two = Processes("Reasons", idle_settings())
    app, backend = two.app, two.backend
    worker = Worker(app, backend)
    worker._runtime = ServiceRuntime(app, backend, "worker")
    active = await worker._active_services()
    specs = {spec.name: spec for spec in active}
    first = await worker._with_work(active)
    assert {spec.name for spec in first} == set(app.services)  # never polled, just started: all of them
    for spec in active:
        worker._polled(spec, backend.cluster.snapshot.hint_tag(spec.queue_name), time.monotonic())
    assert await worker._with_work(active) == []
    worker._submitted(specs["work"].queue_name)
    assert [spec.name for spec in await worker._with_work(active)] == ["work"]
    worker._polled(specs["work"], None, time.monotonic())
    worker._released_later(specs[WORKFLOW_SERVICE].queue_name, 0.0)
    assert [spec.name for spec in await worker._with_work(active)] == [WORKFLOW_SERVICE]


def test_submit_hints_are_rate_limited_but_never_miss_the_last_submit() -> None:
    async def scenario() -> tuple[int, int]:
        records = memory_backend().records
        hints = SubmitHints(records, min_gap=0.2)
        for _ in range(50):  # a burst: one write now, one at the end of the gap
            hints.ring("q")
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.5)
        burst = hints.writes
        hints.ring("q")  # a lone submit after the gap: written at once
        await hints.close()
        return burst, hints.writes

    burst, total = asyncio.run(scenario())
    assert burst == 2 and total == 3


async def test_a_local_submit_tells_the_backend_listeners() -> None:
    app = ServiceApp("Hints", settings=Settings(_env_file=None), backend=memory_backend())  # type: ignore[call-arg]

    @app.job("work")
    def work(payload: dict[str, Any]) -> tuple[bytes, str, str]:
        return b"w", "text/plain", "w.txt"

    backend = app.backend
    assert backend is not None
    told: list[str] = []
    backend.enqueue_listeners.append(told.append)
    await app.submit({"n": 1}, service="work")
    assert told == [app.services["work"].queue_name]
