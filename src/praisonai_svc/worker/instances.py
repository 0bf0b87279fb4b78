"""Worker heartbeats for crash recovery: records of kind ``worker_heartbeat`` with the time last seen.

The seam crash recovery needs is two functions, :func:`beat` and :func:`dead_instances`. The services
lifecycle (issue 12, ``praisonai_svc.services.heartbeat``, record kind ``instance``) beats every process every
``server.heartbeat_seconds`` (60 s by default), too slowly for recovery within 15 s, and its records have
another shape; these records use their own kind so the two never read each other's. Moving recovery onto the
``instance`` records (a fast beat while busy, dead = missed beats) is the next step.

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
from praisonai_svc.models.job import utcnow
from praisonai_svc.records import Record

KIND = "worker_heartbeat"
LIST_PAGE = 100


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
        KIND, instance_id, body={"last_seen": time.time(), "pid": os.getpid(), "host": socket.gethostname()},
        fields={"role": role}, expires_utc=utcnow() + timedelta(seconds=keep),
    ))


async def forget(backend: Backend, instance: Instance) -> None:
    """Remove a dead instance's record once its jobs are handled (only if it did not beat again meanwhile)."""
    await backend.records.delete(KIND, instance.id, etag=instance.etag)


async def known_instances(backend: Backend, *, role: str = "worker") -> list[Instance]:
    """Every instance of ``role`` with a heartbeat record (busy now, or stopped before its record went)."""
    found: list[Instance] = []
    cursor: str | None = None
    while True:
        page = await backend.records.list(KIND, where={"role": role}, limit=LIST_PAGE, cursor=cursor)
        found.extend(Instance(record.id, float(record.body.get("last_seen", 0.0)), record.etag)
                     for record in page.records)
        cursor = page.next_cursor
        if cursor is None:
            return found


async def dead_instances(backend: Backend, dead_after: float, *, role: str = "worker") -> list[Instance]:
    """Instances of ``role`` whose last heartbeat is older than ``dead_after`` seconds."""
    now = time.time()
    return [instance for instance in await known_instances(backend, role=role) if instance.missed(now, dead_after)]
