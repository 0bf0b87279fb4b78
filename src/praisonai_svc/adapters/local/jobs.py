"""SQLite job store: one row per job (indexed columns + the job as JSON) and a hash-claim table."""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from praisonai_svc.adapters.cursor import decode_cursor, encode_cursor
from praisonai_svc.adapters.local.db import Database
from praisonai_svc.errors import ConcurrencyConflict, JobNotFound
from praisonai_svc.hashing import canonical_json
from praisonai_svc.models.job import Job, JobStatus
from praisonai_svc.ports import DuplicateJob, JobListing, JobStore

_SELECT = "SELECT doc, payload, etag, tenant FROM jobs"
_IN_CHUNK = 500  # ids per IN (...) query, well under SQLite's bound-parameter limit
_BY_HASH = (
    "SELECT j.doc, j.payload, j.etag, j.tenant FROM job_hashes h JOIN jobs j ON j.job_id = h.job_id"
    " WHERE h.payload_hash = ?"
)


def _load(row: tuple[str, str, int, str | None]) -> Job:
    # The payload lives in its own column so that status updates never rewrite (up to 1 MB of) payload; the
    # tenant in its own (indexed) column, written once at insert, so an update cannot move a job to another.
    data = json.loads(row[0])
    data["payload"] = json.loads(row[1])
    data["tenant"] = row[3]
    job = Job.model_validate(data)
    job.etag = str(row[2])
    return job


def _dump(job: Job) -> str:
    return job.model_dump_json(exclude={"payload", "tenant"})


_INSERT_JOB = (
    "INSERT INTO jobs (job_id, service, status, created_utc, payload_hash, etag, doc, payload, tenant)"
    " VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)"
)


def _row(job: Job) -> tuple[str, str, str, str, str, str, str, str | None]:
    return (job.job_id, job.service, job.status.value, job.created_utc.isoformat(), job.payload_hash, _dump(job),
            canonical_json(job.payload), job.tenant)


def _stored(job: Job) -> Job:
    """``job`` as just inserted: etag 1. The very object, not a copy (a copy is a tenth of a submission's CPU):
    the caller made it for this insert and gets it back; setting the etag again, should the transaction be run
    again, changes nothing."""
    job.etag = "1"
    return job


def _swap(conn: sqlite3.Connection, job: Job) -> Job | ConcurrencyConflict | JobNotFound:
    """The ETag-conditional update of one job inside the caller's transaction; the error is returned, not
    raised, so that a batch goes on with its other jobs."""
    new_etag = int(job.etag or 0) + 1
    cur = conn.execute(
        "UPDATE jobs SET status = ?, etag = ?, doc = ? WHERE job_id = ? AND etag = ?",
        (job.status.value, new_etag, _dump(job), job.job_id, int(job.etag or 0)),
    )
    if cur.rowcount == 1:
        return job.model_copy(update={"etag": str(new_etag)})
    exists = conn.execute("SELECT 1 FROM jobs WHERE job_id = ?", (job.job_id,)).fetchone()
    return ConcurrencyConflict() if exists else JobNotFound()


class SqliteJobStore(JobStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, job: Job) -> Job:
        stored, created = await self._db.write(lambda conn: self.insert_claimed(conn, job))
        if not created:
            raise DuplicateJob(stored)
        return stored

    def insert_claimed(self, conn: sqlite3.Connection, job: Job) -> tuple[Job, bool]:
        """Claim the hash and insert the job inside the caller's write transaction: (the stored job, True), or
        (the live job that holds the hash, False) having written nothing.

        The caller raises DuplicateJob once the transaction is over: raised in here, the exception would be
        kept by the group commit with its traceback, whose frames refer back to it, a reference cycle per
        idempotent hit that only the garbage collector can free.
        """
        # Claim first: a new payload (the common case) costs one statement, not a lookup and then an insert.
        claimed = conn.execute(
            "INSERT INTO job_hashes (payload_hash, job_id) VALUES (?, ?) ON CONFLICT (payload_hash) DO NOTHING",
            (job.payload_hash, job.job_id),
        ).rowcount
        if not claimed:
            row = conn.execute(_BY_HASH, (job.payload_hash,)).fetchone()
            if row is not None:
                holder = _load(row)
                if not holder.status.releases_claim:
                    return holder, False
            # The holder failed (a new job may take the hash over), or its row is gone.
            conn.execute("UPDATE job_hashes SET job_id = ? WHERE payload_hash = ?", (job.job_id, job.payload_hash))
        conn.execute(_INSERT_JOB, _row(job))
        return _stored(job), True

    def insert_many_claimed(self, conn: sqlite3.Connection, jobs: Sequence[Job]) -> builtins.list[tuple[Job, bool]]:
        """:meth:`insert_claimed` for many jobs in the caller's transaction, in a few statements: one multi-row
        claim per chunk (``RETURNING`` names the claims won), one ``executemany`` for their rows; jobs whose claim
        was taken (a live duplicate, a failed holder, or an earlier item of the same batch) go the single way."""
        claimed: set[str] = set()
        for start in range(0, len(jobs), _IN_CHUNK):
            chunk = jobs[start:start + _IN_CHUNK]
            rows = conn.execute(
                "INSERT INTO job_hashes (payload_hash, job_id) VALUES " + ",".join(["(?, ?)"] * len(chunk))
                + " ON CONFLICT (payload_hash) DO NOTHING RETURNING job_id",
                [value for job in chunk for value in (job.payload_hash, job.job_id)],
            ).fetchall()
            claimed.update(row[0] for row in rows)
        conn.executemany(_INSERT_JOB, [_row(job) for job in jobs if job.job_id in claimed])
        return [(_stored(job), True) if job.job_id in claimed else self.insert_claimed(conn, job) for job in jobs]

    async def get(self, job_id: str) -> Job:
        row = await self._db.call(lambda c: c.execute(_SELECT + " WHERE job_id = ?", (job_id,)).fetchone())
        if row is None:
            raise JobNotFound()
        return _load(row)

    async def update(self, job: Job) -> Job:
        def swap(conn: sqlite3.Connection) -> Job:
            outcome = _swap(conn, job)
            if isinstance(outcome, Job):
                return outcome
            raise outcome

        return await self._db.write(swap)

    async def get_many(self, job_ids: Sequence[str]) -> dict[str, Job]:
        ids = list(job_ids)

        def read(conn: sqlite3.Connection) -> builtins.list[Any]:
            rows: builtins.list[Any] = []
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start:start + _IN_CHUNK]
                rows += conn.execute(f"{_SELECT} WHERE job_id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
            return rows

        return {job.job_id: job for job in map(_load, await self._db.call(read))}

    async def update_many(self, jobs: Sequence[Job]) -> builtins.list[Job | ConcurrencyConflict | JobNotFound]:
        def swap_all(conn: sqlite3.Connection) -> builtins.list[Job | ConcurrencyConflict | JobNotFound]:
            return [_swap(conn, job) for job in jobs]

        return await self._db.write(swap_all)

    async def delete(self, job_id: str) -> None:
        def remove(conn: sqlite3.Connection) -> None:
            # By the claim's key (job_hashes has no index on job_id: a scan per delete would hold the write
            # lock for as long as the table is big); a claim taken over by another job stays with it.
            conn.execute(
                "DELETE FROM job_hashes WHERE payload_hash = (SELECT payload_hash FROM jobs WHERE job_id = ?)"
                " AND job_id = ?", (job_id, job_id),
            )
            conn.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))

        await self._db.write(remove)

    async def find_by_hash(self, payload_hash: str) -> Job | None:
        row = await self._db.call(lambda c: c.execute(_BY_HASH, (payload_hash,)).fetchone())
        return _load(row) if row else None

    async def list(
        self, *, service: str | None = None, status: JobStatus | None = None, limit: int = 50,
        cursor: str | None = None, tenant: str | None = None,
    ) -> JobListing:
        clauses: list[str] = []
        args: list[Any] = []
        if tenant is not None:
            clauses.append("tenant = ?")  # the tenant column never changes after insert (see update)
            args.append(tenant)
        if service is not None:
            clauses.append("service = ?")
            args.append(service)
        if status is not None:
            clauses.append("status = ?")
            args.append(status.value)
        if cursor:
            created, job_id = decode_cursor(cursor)
            clauses.append("(created_utc, job_id) < (?, ?)")
            args.extend([created, job_id])
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        sql = f"{_SELECT}{where} ORDER BY created_utc DESC, job_id DESC LIMIT ?"
        rows = await self._db.call(lambda c: c.execute(sql, (*args, limit + 1)).fetchall())
        jobs = [_load(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit and jobs:
            next_cursor = encode_cursor(jobs[-1].created_utc.isoformat(), jobs[-1].job_id)
        return JobListing(jobs=jobs, next_cursor=next_cursor)

    async def count_by_status(self, *, limit: int = 1000) -> dict[JobStatus, int]:
        sql = ("SELECT status, count(*) FROM (SELECT status FROM jobs ORDER BY created_utc DESC, job_id DESC"
               " LIMIT ?) GROUP BY status")
        rows = await self._db.call(lambda c: c.execute(sql, (max(limit, 0),)).fetchall())
        counts = dict.fromkeys(JobStatus, 0)
        for status, count in rows:
            counts[JobStatus(status)] = int(count)
        return counts

    async def release_claim(self, payload_hash: str, job_id: str) -> None:
        await self._db.write(lambda conn: conn.execute(
            "DELETE FROM job_hashes WHERE payload_hash = ? AND job_id = ?", (payload_hash, job_id)
        ))

    async def prunable(self, *, before: datetime, limit: int = 100) -> builtins.list[Job]:
        # One range of the (status, created_utc) index per terminal status: never a scan of the live jobs.
        terminal = [status.value for status in JobStatus if status.is_terminal]
        sql = " UNION ALL ".join(
            f"SELECT * FROM ({_SELECT} WHERE status = ? AND created_utc < ? ORDER BY created_utc LIMIT ?)"
            for _ in terminal
        )
        args: list[Any] = []
        for status in terminal:
            args += [status, before.isoformat(), int(limit)]
        rows = await self._db.call(lambda c: c.execute(sql, args).fetchall())
        jobs = sorted((_load(row) for row in rows), key=lambda job: (job.created_utc, job.job_id))
        return jobs[:limit]

    async def check(self) -> None:
        await self._db.call(lambda c: c.execute("SELECT 1").fetchone())
