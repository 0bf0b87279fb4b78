"""Instance heartbeats: every API and worker process says who it is and what its services are doing.

One record per process (kind ``cluster``, id ``instance:<instance id>``), rewritten every heartbeat interval:
instance id, role, host, pid, each service's state, when it started, when it was last seen. The process that
holds the leader lease writes no record of its own while it leads: its lease renewals carry its heartbeat
(``instance`` in the lease's body), so leading costs no extra write. :func:`list_instances` splits them into
live and dead (not seen for :func:`dead_after` seconds), which the management API shows.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from praisonai_svc.cluster import INSTANCE, KIND, LEASE, ClusterSnapshot, read_partition, record_id
from praisonai_svc.errors import ConcurrencyConflict
from praisonai_svc.models.job import utcnow
from praisonai_svc.records import Record, RecordStore

KEEP_DEAD_FOR = timedelta(hours=1)  # a dead instance's record stays listable this long, then it is pruned
MISSED_BEATS = 2.5  # an instance that missed this many heartbeats is dead


def dead_after(heartbeat_seconds: float) -> float:
    """Seconds without a heartbeat after which an instance counts as dead."""
    return heartbeat_seconds * MISSED_BEATS


@dataclass
class Instance:
    """One process of the deployment, as its last heartbeat described it."""

    instance_id: str
    role: str
    host: str
    pid: int
    started_utc: datetime
    last_seen_utc: datetime
    services: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → {"state": ..., "error": ...}

    @classmethod
    def this_process(cls, role: str) -> Instance:
        now = utcnow()
        return cls(f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}", role,
                   socket.gethostname(), os.getpid(), now, now)

    def body(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "role": self.role, "host": self.host, "pid": self.pid,
                "started_utc": self.started_utc.isoformat(), "last_seen_utc": self.last_seen_utc.isoformat(),
                "services": self.services}

    def to_record(self) -> Record:
        return Record(KIND, record_id(INSTANCE, self.instance_id), self.body(), fields={"role": self.role},
                      expires_utc=self.last_seen_utc + KEEP_DEAD_FOR)

    @classmethod
    def from_record(cls, record: Record) -> Instance:
        return cls.from_body(record.body)

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Instance:
        return cls(body["instance_id"], body["role"], body["host"], int(body["pid"]),
                   datetime.fromisoformat(body["started_utc"]), datetime.fromisoformat(body["last_seen_utc"]),
                   dict(body.get("services") or {}))

    def public(self, *, alive: bool) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "role": self.role, "host": self.host, "pid": self.pid,
                "started_utc": self.started_utc.isoformat(), "last_seen_utc": self.last_seen_utc.isoformat(),
                "alive": alive, "services": self.services}


@dataclass(frozen=True)
class InstanceListing:
    live: list[Instance]
    dead: list[Instance]


async def beat(records: RecordStore, instance: Instance) -> None:
    """Write ``instance``'s heartbeat (one unconditional upsert)."""
    instance.last_seen_utc = utcnow()
    await records.replace(instance.to_record())


def instances_of(snapshot: ClusterSnapshot) -> list[Instance]:
    """Every instance a read of the cluster partition knows, the leader's from the lease it renews (when a
    process has both records, the newer heartbeat counts)."""
    found: dict[str, Instance] = {}
    bodies = [record.body for record in snapshot.of(INSTANCE).values()]
    bodies += [record.body["instance"] for record in snapshot.of(LEASE).values()
               if isinstance(record.body.get("instance"), dict)]
    for body in bodies:
        try:
            instance = Instance.from_body(body)
        except (KeyError, TypeError, ValueError):
            continue
        known = found.get(instance.instance_id)
        if known is None or known.last_seen_utc < instance.last_seen_utc:
            found[instance.instance_id] = instance
    return sorted(found.values(), key=lambda instance: instance.instance_id)


def split_instances(instances: list[Instance], *, heartbeat_seconds: float, now: datetime | None = None
                    ) -> InstanceListing:
    """Live and dead instances, by their last heartbeat."""
    now = now or utcnow()
    limit = timedelta(seconds=dead_after(heartbeat_seconds))
    live = [instance for instance in instances if now - instance.last_seen_utc <= limit]
    return InstanceListing(live, [instance for instance in instances if now - instance.last_seen_utc > limit])


async def list_instances(records: RecordStore, *, heartbeat_seconds: float, now: datetime | None = None
                         ) -> InstanceListing:
    """Every known instance, split into live and dead by its last heartbeat (one request per 1,000)."""
    snapshot = await read_partition(records)
    return split_instances(instances_of(snapshot), heartbeat_seconds=heartbeat_seconds, now=now)


async def prune_instances(records: RecordStore, *, limit: int = 100) -> int:
    """Delete the cluster records that expired: instances dead for longer than :data:`KEEP_DEAD_FOR`, a
    stopped worker's recovery heartbeat, hints of queues nobody submitted to for a week; how many."""
    expired = await records.expired(KIND, before=utcnow(), limit=limit)
    for record in expired:
        with contextlib.suppress(ConcurrencyConflict):  # it beat again meanwhile: alive after all
            await records.delete(KIND, record.id, etag=record.etag)
    return len(expired)


async def remove(records: RecordStore, instance: Instance) -> None:
    """Forget ``instance`` (a clean shutdown)."""
    await records.delete(KIND, record_id(INSTANCE, instance.instance_id))
