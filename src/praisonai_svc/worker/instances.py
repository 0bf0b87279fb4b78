"""Worker heartbeats for crash recovery: records ``worker:<instance id>`` of the cluster partition (kind
``cluster``, :mod:`praisonai_svc.cluster`) with the time last seen, written only while the worker holds jobs.

The seam crash recovery needs is two functions, :func:`beat` and :func:`dead_instances`. The services
lifecycle (issue 12, ``praisonai_svc.services.heartbeat``, ids ``instance:<id>``) beats every process every
``server.heartbeat_seconds`` (60 s by default), too slowly for recovery within 15 s, and its records have
another shape, so these have their own ids. Living in the cluster partition, they come with the read an idle
worker makes anyway once per poll cycle: watching for busy peers costs an idle worker nothing.

Times are wall-clock seconds of the writing host: hosts sharing a backend need clocks within a few seconds of
each other (NTP), or recovery may come a little early (a duplicate attempt, fenced, never two results) or late
(the lease still expires).
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from datetime import timedelta

from praisonai_svc.backend import Backend
from praisonai_svc.cluster import KIND, WORKER, name_of, record_id
from praisonai_svc.models.job import utcnow
from praisonai_svc.records import Record


def new_instance_id(role: str = "worker") -> str:
    """Unique per process start: host, pid and 24 random bits (a restarted process is a new instance)."""
    host = "".join(c if c.isalnum() or c == "-" else "-" for c in socket.gethostname())[:40] or "host"
    return f"{role}-{host}-{os.getpid()}-{os.urandom(3).hex()}"


@dataclass(frozen=True)
class Instance:
    id: str
    last_seen: float
    etag: str | None

    def missed(self, now: float, dead_after: float) -> bool:
        return now - self.last_seen > dead_after


async def beat(backend: Backend, instance_id: str, *, role: str = "worker", keep: float = 3600.0) -> None:
    """Record that ``instance_id`` is alive now (an upsert; the record expires ``keep`` seconds later)."""
    await backend.records.replace(Record(
        KIND, record_id(WORKER, instance_id),
        body={"last_seen": time.time(), "pid": os.getpid(), "host": socket.gethostname()}, fields={"role": role},
        expires_utc=utcnow() + timedelta(seconds=keep),
    ))


async def forget(backend: Backend, instance: Instance) -> None:
    """Remove a dead instance's record once its jobs are handled (only if it did not beat again meanwhile)."""
    await backend.records.delete(KIND, record_id(WORKER, instance.id), etag=instance.etag)


async def remove(backend: Backend, instance_id: str) -> None:
    """Remove this worker's own record (a clean exit is not a crash)."""
    await backend.records.delete(KIND, record_id(WORKER, instance_id))


async def known_instances(backend: Backend, *, role: str = "worker", max_age: float = 0.0) -> list[Instance]:
    """Every instance of ``role`` with a heartbeat record (busy now, or stopped before its record went), from
    a copy of the cluster partition at most ``max_age`` seconds old."""
    snapshot = await backend.cluster.refresh(max_age)
    return [Instance(name_of(record), float(record.body.get("last_seen", 0.0)), record.etag)
            for record in snapshot.of(WORKER).values() if record.fields.get("role") == role]


async def dead_instances(backend: Backend, dead_after: float, *, role: str = "worker") -> list[Instance]:
    """Instances of ``role`` whose last heartbeat is older than ``dead_after`` seconds."""
    now = time.time()
    return [instance for instance in await known_instances(backend, role=role) if instance.missed(now, dead_after)]
