"""The embedded ``local`` backend: SQLite (WAL) for jobs and queues, files for outputs."""

from __future__ import annotations

import sqlite3

from praisonai_svc.adapters.local.blobs import FileBlobStore
from praisonai_svc.adapters.local.db import Database
from praisonai_svc.adapters.local.jobs import SqliteJobStore
from praisonai_svc.adapters.local.queue import SqliteJobQueue
from praisonai_svc.adapters.local.rate_limits import SqliteRateLimiter
from praisonai_svc.adapters.local.records import SqliteRecordStore
from praisonai_svc.adapters.local.signing import load_or_create_key
from praisonai_svc.backend import Backend
from praisonai_svc.models.job import Job
from praisonai_svc.ports import DuplicateJob
from praisonai_svc.settings import Settings


def signing_key(settings: Settings) -> bytes:
    """The HMAC key: PRAISONAI_SIGNING_KEY if set, else one generated once in the data dir."""
    if settings.signing_key is not None:
        return settings.signing_key.get_secret_value().encode()
    return load_or_create_key(settings.data_dir / "signing.key")


async def open_local_backend(settings: Settings) -> Backend:
    data_dir = settings.data_dir.resolve()
    blobs_dir = data_dir / "blobs"
    blobs_dir.mkdir(parents=True, exist_ok=True)
    db = Database(data_dir / "praisonai.sqlite3", synchronous=settings.sqlite_synchronous)
    jobs = SqliteJobStore(db)
    await jobs.check()  # creates the schema now, so the first request does not pay for it
    signal = data_dir / "queue.signal"

    def make_queue(name: str) -> SqliteJobQueue:
        return SqliteJobQueue(db, name, settings.poison_queue_name(name), signal)

    backend = Backend(
        "local", jobs, FileBlobStore(blobs_dir, signing_key(settings), db), make_queue, SqliteRecordStore(db)
    )
    backend.closers.append(db.close)
    backend.compact = db.compact
    backend.rate_limiter = SqliteRateLimiter(db)

    async def atomic_submit(job: Job, queue_name: str) -> Job:
        queue = backend.queue(queue_name)
        assert isinstance(queue, SqliteJobQueue)

        def both(conn: sqlite3.Connection) -> tuple[Job, bool]:
            stored, created = jobs.insert_claimed(conn, job)
            if created:
                queue.insert_message(conn, stored.job_id)
            return stored, created

        stored, created = await db.write(both)
        if not created:
            raise DuplicateJob(stored)
        queue.notify()
        return stored

    backend.atomic_submit = atomic_submit

    async def atomic_submit_many(many: list[Job], queue_name: str) -> list[Job | DuplicateJob]:
        queue = backend.queue(queue_name)
        assert isinstance(queue, SqliteJobQueue)

        def all_of_them(conn: sqlite3.Connection) -> list[tuple[Job, bool]]:
            stored = jobs.insert_many_claimed(conn, many)
            queue.insert_messages(conn, [job.job_id for job, created in stored if created])
            return stored

        stored = await db.write(all_of_them)
        queue.notify()
        return [job if created else DuplicateJob(job) for job, created in stored]

    backend.atomic_submit_many = atomic_submit_many
    return backend


__all__ = [
    "FileBlobStore", "SqliteJobQueue", "SqliteJobStore", "SqliteRateLimiter", "SqliteRecordStore",
    "open_local_backend", "signing_key",
]
