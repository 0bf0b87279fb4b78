"""Service control state, leader leases, instance heartbeats and submit hints over every backend (memory, local,
azure): the cluster partition, which a process reads in one request.

``twin_backend`` is a second connection to the same storage, as another process would have.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from praisonai_svc.backend import Backend
from praisonai_svc.cluster import ClusterView, SubmitHints
from praisonai_svc.models.job import utcnow
from praisonai_svc.services.control import Control, ControlStore, ControlView, controls_of
from praisonai_svc.services.heartbeat import Instance, beat, instances_of, list_instances, prune_instances, remove
from praisonai_svc.services.leader import LeaderLease
from tests.support.counting import Counting


async def test_control_changes_are_seen_by_other_processes(backend: Backend, twin_backend: Backend) -> None:
    mine, theirs = ControlStore(backend.records), ControlStore(twin_backend.records)
    assert await theirs.read_all() == {}
    assert await theirs.read("ppt") == Control()
    await mine.change("ppt", "ops@1", desired="stopped")
    await mine.change("ppt", "ops@2", config={"theme": "dark"})
    seen = (await theirs.read_all())["ppt"]
    assert seen.desired == "stopped" and seen.config == {"theme": "dark"} and seen.changed_by == "ops@2"
    await theirs.change("ppt", "ops@3", desired="running")
    assert (await mine.read("ppt")).desired == "running"


async def test_concurrent_changes_are_never_lost(backend: Backend, twin_backend: Backend) -> None:
    stores = [ControlStore(backend.records), ControlStore(twin_backend.records)]
    await asyncio.gather(*(stores[i % 2].change(f"svc{i % 3}", f"who{i}", desired="stopped") for i in range(12)))
    await asyncio.gather(stores[0].change("svc0", "a", config={"x": 1}),
                         stores[1].change("svc0", "b", desired="running"))
    final = (await stores[0].read_all())["svc0"]
    assert final.config == {"x": 1} and final.desired == "running"  # both fields landed


async def test_control_view_reads_only_when_stale(backend: Backend) -> None:
    view = ControlView(ClusterView(backend.records))
    await view.refresh(max_age=60)
    await view.refresh(max_age=60)
    assert view.reads == 1
    change = view.next_change()
    await ControlStore(backend.records).change("ppt", "ops", desired="stopped")
    await view.refresh(max_age=0)
    assert view.reads == 2 and change.is_set() and view.get("ppt").desired == "stopped"


async def test_exactly_one_contender_takes_a_free_lease(backend: Backend, twin_backend: Backend) -> None:
    leases = [LeaderLease((backend if i % 2 else twin_backend).records, "ticker", f"p{i}", ttl=30) for i in range(6)]
    won = await asyncio.gather(*(lease.claim() for lease in leases))
    assert sum(won) == 1
    leader = leases[won.index(True)]
    assert leader.held
    others = [lease for lease in leases if lease is not leader]
    assert not any([await lease.claim() for lease in others])
    assert all(lease.seen.holder == leader.holder for lease in others)
    assert await leader.claim() is True  # renewal


async def test_an_expired_lease_is_taken_over_by_exactly_one(backend: Backend, twin_backend: Backend) -> None:
    dead = LeaderLease(backend.records, "ticker", "dead", ttl=3)
    assert await dead.claim()
    contenders = [LeaderLease((backend if i % 2 else twin_backend).records, "ticker", f"p{i}", ttl=3)
                  for i in range(4)]
    assert not any([await c.claim() for c in contenders])
    await asyncio.sleep(max(c.next_claim_in() for c in contenders))  # until the dead holder's lease expires
    won = await asyncio.gather(*(c.claim() for c in contenders))
    assert sum(won) == 1
    assert await dead.claim() is False  # the old holder learns it lost (its renewal conflicts)
    assert not dead.held


async def test_a_released_lease_is_free_at_once(backend: Backend, twin_backend: Backend) -> None:
    first = LeaderLease(backend.records, "ticker", "first", ttl=30)
    second = LeaderLease(twin_backend.records, "ticker", "second", ttl=30)
    assert await first.claim() and not await second.claim()
    await first.release()
    assert not first.held
    assert await second.claim()


async def test_leases_of_different_services_are_independent(backend: Backend) -> None:
    assert await LeaderLease(backend.records, "a", "p1", ttl=30).claim()
    assert await LeaderLease(backend.records, "b", "p2", ttl=30).claim()


async def test_heartbeats_list_live_and_dead_instances(backend: Backend, twin_backend: Backend) -> None:
    api, worker = Instance.this_process("api"), Instance.this_process("worker")
    worker.services = {"ppt": {"state": "running", "error": None}}
    await beat(backend.records, api)
    await beat(twin_backend.records, worker)
    listing = await list_instances(backend.records, heartbeat_seconds=30)
    assert {i.instance_id for i in listing.live} == {api.instance_id, worker.instance_id} and listing.dead == []
    seen = next(i for i in listing.live if i.role == "worker")
    assert seen.services == worker.services and seen.pid == worker.pid and seen.host == worker.host
    later = await list_instances(backend.records, heartbeat_seconds=30, now=utcnow() + timedelta(seconds=120))
    assert later.live == [] and len(later.dead) == 2
    await remove(backend.records, api)
    assert [i.instance_id for i in (await list_instances(backend.records, heartbeat_seconds=30)).live] == [
        worker.instance_id]
    assert await prune_instances(backend.records) == 0  # nobody has been dead for an hour


async def test_one_read_of_the_cluster_partition_sees_control_leases_heartbeats_and_hints(
        backend: Backend, twin_backend: Backend) -> None:
    leader, api = Instance.this_process("worker"), Instance.this_process("api")
    await ControlStore(backend.records).change("ppt", "ops", desired="stopped")
    lease = LeaderLease(backend.records, "*", leader.instance_id, ttl=30, heartbeat=leader.body)
    assert await lease.claim()
    await beat(backend.records, api)
    hints = SubmitHints(backend.records)
    hints.ring("ppt-queue")
    await hints.close()

    counted = Counting(twin_backend.records)
    view = ClusterView(counted)  # type: ignore[arg-type]  # another process's view, counting its requests
    snapshot = await view.refresh(60)
    assert dict(counted.calls) == {"list": 1}
    assert controls_of(snapshot)["ppt"].desired == "stopped"
    assert {i.instance_id for i in instances_of(snapshot)} == {leader.instance_id, api.instance_id}
    assert snapshot.hint_tag("ppt-queue") is not None and snapshot.hint_tag("other-queue") is None
    await view.refresh(60)
    assert dict(counted.calls) == {"list": 1}  # fresh enough: no request

    hints.ring("ppt-queue")  # the next submit rings again: the tag changes
    await hints.close()
    assert (await view.refresh(0)).hint_tag("ppt-queue") != snapshot.hint_tag("ppt-queue")


async def test_a_follower_sees_the_lease_in_every_read_of_the_partition(
        backend: Backend, twin_backend: Backend) -> None:
    leader = LeaderLease(backend.records, "*", "leader", ttl=30)
    assert await leader.claim()
    view = ClusterView(twin_backend.records)
    follower = LeaderLease(twin_backend.records, "*", "follower", ttl=30, cluster=view)
    sighting = follower.next_sighting()
    await view.refresh(0)  # a read made for anything else (a worker's poll cycle)
    assert sighting.is_set() and follower.seen.holder == "leader"
    assert follower.next_claim_in() > 20  # nothing to do until the lease would expire
    await leader.release()
    sighting = follower.next_sighting()
    await view.refresh(0)
    assert sighting.is_set() and follower.seen.holder is None and follower.next_claim_in() == 0
    assert await follower.claim()
