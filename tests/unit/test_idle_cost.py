"""Issue 12's idle cost, by counting storage requests (no timed assertions): what an idle process asks of storage.

The figures on Azurite are printed by bench/bench_services.py (``--only idle --breakdown``); these tests pin the
rules that make them small: the dead-instance sweep, the built-in queues' polls, one lease for every leader
service, a follower's lease reads, the pruner's back-off.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from praisonai_svc import ServiceApp
from praisonai_svc.backend import Backend, memory_backend
from praisonai_svc.retention.service import IDLE_INTERVAL_FACTOR, next_wait
from praisonai_svc.services import Service
from praisonai_svc.services.leader import KIND as LEASE_KIND
from praisonai_svc.services.leader import LeaderLease
from praisonai_svc.services.runtime import ServiceRuntime
from praisonai_svc.settings import Settings
from praisonai_svc.worker import Worker
from praisonai_svc.worker.instances import beat
from praisonai_svc.worker.recovery import IDLE_SWEEP_SECONDS, sweep, sweep_due
from praisonai_svc.workflows.service import EXECUTION_SERVICE as WORKFLOW_SERVICE


class Counting:
    """A record store that counts the requests made through it (by method)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return await attr(*args, **kwargs)

        return counted


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
    record = await backend.records.find("worker_heartbeat", "peer")
    assert record is not None
    await backend.records.replace(record.evolve(body={**record.body, "last_seen": time.time() - 60}, etag=None))
    found = await sweep(app, backend, "me")
    assert (found.peers, found.released) == (1, 0)  # dead, held nothing: its record goes
    assert (await sweep(app, backend, "me")).peers == 0  # back to once a minute


async def test_one_lease_renewal_covers_every_leader_service_and_a_follower_reads_once(tmp_path: Path) -> None:
    class Quiet(Service):
        async def start(self) -> None:
            pass

        async def stop(self) -> None:
            pass

    apps, runtimes = [], []
    shared = memory_backend()
    counted = Counting(shared.records)
    (tmp_path / "praisonai.yaml").write_text("")
    for index in range(2):
        settings = Settings(_env_file=None, data_dir=tmp_path / str(index))  # type: ignore[call-arg]
        app = ServiceApp(f"Leaders{index}", settings=settings, backend=shared,
                         config_file=tmp_path / "praisonai.yaml")
        app.register_service(Quiet, "first", runs_on="one")
        app.register_service(Quiet, "second", runs_on="one")
        apps.append(app)
        runtime = ServiceRuntime(app, shared, "worker")
        runtime.lease.records = counted  # count the lease's own requests
        runtimes.append(runtime)
    leader, follower = runtimes
    assert set(leader.leases) == {"first", "second", "pruner", "workflow-scheduler"}
    assert len({id(lease) for lease in leader.leases.values()}) == 1
    assert await leader.lease.claim()
    assert not await follower.lease.claim()
    page = await shared.records.list(LEASE_KIND, limit=10)
    assert [record.id for record in page.records] == ["service:*"]  # one record for the four services
    counted.calls.clear()
    assert await leader.lease.claim()  # a renewal: one conditional replace
    assert sum(counted.calls.values()) == 1
    counted.calls.clear()
    assert not await follower.lease.claim()  # a follower that saw a holder only reads the lease
    assert dict(counted.calls) == {"find": 1}


async def test_a_follower_takes_over_an_expired_lease_and_a_released_one() -> None:
    records = memory_backend().records
    dead = LeaderLease(records, "*", "dead", ttl=3)
    follower = LeaderLease(records, "*", "follower", ttl=3)
    assert await dead.claim()
    assert not await follower.claim()
    stored = await records.find(LEASE_KIND, "service:*")
    assert stored is not None
    await records.replace(stored.evolve(body={**stored.body, "expires_at": time.time() - 1}))  # it died
    assert await follower.claim()
    await follower.release()
    assert await dead.claim()  # a released lease is free again


def test_the_pruner_backs_off_after_empty_runs_and_returns_after_work() -> None:
    interval = 300.0
    waits, wait = [], interval / 2
    for _ in range(6):
        wait = next_wait(interval, wait, removed=0)
        waits.append(wait)
    assert waits == [300, 600, 1200, 2400, 2400, 2400]
    assert max(waits) == interval * IDLE_INTERVAL_FACTOR
    assert next_wait(interval, 2400, removed=3) == interval
    assert next_wait(3600, 1800, removed=0) == 3600  # never below the interval, never above max(interval, 1 h)


async def test_an_idle_worker_polls_built_in_queues_every_other_cycle_and_at_once_after_a_local_submit() -> None:
    settings = Settings(_env_file=None, worker_poll_interval_min=0.005, worker_poll_interval_max=0.005,  # type: ignore[call-arg]
                        worker_heartbeat_seconds=0)
    backend = memory_backend()
    enough = asyncio.Event()
    receives = count_receives(backend, lambda counts: counts[user_queue] >= 40 and enough.set())
    app = ServiceApp("Idle", settings=settings, backend=backend)

    @app.job("work")
    def work(payload: dict[str, Any]) -> tuple[bytes, str, str]:
        return b"w", "text/plain", "w.txt"

    user_queue = app.services["work"].queue_name
    builtin_queue = app.services[WORKFLOW_SERVICE].queue_name
    worker = Worker(app, backend)
    running = asyncio.create_task(worker.run())
    await asyncio.wait_for(enough.wait(), 60)
    worker.stop()
    await running
    assert receives[user_queue] >= 40
    assert receives[builtin_queue] <= receives[user_queue] // 2 + 1  # every other idle cycle
    assert receives[builtin_queue] >= receives[user_queue] // 2 - 2

    # A submit to a built-in queue from this process is polled at the next cycle, not at the next scheduled one.
    worker = Worker(app, backend)
    worker._idle_cycles = 1  # the next idle cycle would skip the built-in queue
    worker._runtime = ServiceRuntime(app, backend, "worker")
    worker._submitted(builtin_queue)
    assert worker._builtin_due(builtin_queue) and not worker._builtin_due(builtin_queue)
    worker._submitted(user_queue)  # the user's queues are polled every cycle anyway: no hint needed
    assert user_queue not in worker._hinted


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
