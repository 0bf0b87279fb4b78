"""SQLite queue with visibility-timeout leases, Azure-Queue semantics, and a free wake-up signal.

Leasing is one ``UPDATE … RETURNING`` inside ``BEGIN IMMEDIATE``, so two processes never lease the same
message. ``send`` touches a signal file; an idle worker watches that file's mtime (a ``stat``, not a database
query) so it can back off to one real poll every 30 s yet start new work within ~50 ms.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from praisonai_svc.adapters.local.db import Database
from praisonai_svc.errors import LeaseLost
from praisonai_svc.models.job import utcnow
from praisonai_svc.ports import POISON_PEEK_LIMIT, JobQueue, PoisonMessage, QueueMessage

_SIGNAL_CHECK_SECONDS = 0.05
_LEASE = (
    "UPDATE messages SET visible_at = ?, dequeue_count = dequeue_count + 1, pop_receipt = lower(hex(randomblob(16)))"
    " WHERE seq IN (SELECT seq FROM messages WHERE queue = ? AND visible_at <= ? ORDER BY visible_at, seq LIMIT ?)"
    " RETURNING seq, job_id, pop_receipt, dequeue_count, inserted_utc"
)


def _seq(message: QueueMessage) -> int:
    try:
        return int(message.message_id)
    except ValueError:
        raise LeaseLost() from None


class SqliteJobQueue(JobQueue):
    def __init__(self, db: Database, name: str, poison_name: str, signal_file: Path) -> None:
        self._db = db
        self.name = name
        self.poison_name = poison_name
        self._signal = signal_file
        self._seen_signal = self._signal_mtime()
        self._notify_pending = False

    def _signal_mtime(self) -> int:
        try:
            return os.stat(self._signal).st_mtime_ns
        except FileNotFoundError:
            return 0

    def _touch_signal(self) -> None:
        try:
            os.utime(self._signal)
        except FileNotFoundError:
            self._signal.touch()
        except OSError:
            pass  # the signal only shortens latency; a missed touch costs at most one backoff period

    def insert_message(self, conn: sqlite3.Connection, job_id: str, delay: float = 0.0) -> str:
        """Insert a message inside the caller's transaction (used by the atomic submit); returns its id."""
        cur = conn.execute(
            "INSERT INTO messages (queue, job_id, visible_at, inserted_utc) VALUES (?, ?, ?, ?)",
            (self.name, job_id, time.time() + delay, utcnow().isoformat()),
        )
        return str(cur.lastrowid)

    def insert_messages(self, conn: sqlite3.Connection, job_ids: Sequence[str]) -> None:
        """Insert one visible message per job id inside the caller's transaction (the batch submit)."""
        now, inserted = time.time(), utcnow().isoformat()
        conn.executemany("INSERT INTO messages (queue, job_id, visible_at, inserted_utc) VALUES (?, ?, ?, ?)",
                         [(self.name, job_id, now, inserted) for job_id in job_ids])

    def notify(self) -> None:
        """Wake idle workers (they watch the signal file): one touch per event-loop turn, however many submits
        of one group commit call this (a touch is a system call; the worker needs only one)."""
        if self._notify_pending:
            return
        self._notify_pending = True
        asyncio.get_running_loop().call_soon(self._notify_now)

    def _notify_now(self) -> None:
        self._notify_pending = False
        self._touch_signal()

    async def send(self, job_id: str, *, delay: float = 0.0) -> str:
        message_id = await self._db.write(lambda conn: self.insert_message(conn, job_id, delay))
        self._touch_signal()
        return message_id

    async def receive(self, max_messages: int, visibility_timeout: float) -> list[QueueMessage]:
        self._seen_signal = self._signal_mtime()

        def lease(conn: sqlite3.Connection) -> list[tuple[int, str, str, int, str]]:
            # One statement leases the whole batch; each message gets its own random receipt.
            now = time.time()
            return conn.execute(_LEASE, (now + visibility_timeout, self.name, now, max_messages)).fetchall()

        rows = await self._db.write(lease)
        return [QueueMessage(str(r[0]), r[1], r[2], r[3], datetime.fromisoformat(r[4])) for r in rows]

    async def _with_lease(self, message: QueueMessage, sql: str, *args: object) -> None:
        def run(conn: sqlite3.Connection) -> None:
            cur = conn.execute(sql, (*args, _seq(message), message.pop_receipt))
            if cur.rowcount != 1:
                raise LeaseLost()

        await self._db.write(run)

    async def renew(self, message: QueueMessage, visibility_timeout: float) -> QueueMessage:
        receipt = uuid.uuid4().hex
        await self._with_lease(
            message, "UPDATE messages SET visible_at = ?, pop_receipt = ? WHERE seq = ? AND pop_receipt = ?",
            time.time() + visibility_timeout, receipt,
        )
        return replace(message, pop_receipt=receipt)

    async def ack(self, message: QueueMessage) -> None:
        await self._with_lease(message, "DELETE FROM messages WHERE seq = ? AND pop_receipt = ?")

    async def ack_many(self, messages: Sequence[QueueMessage]) -> list[bool]:
        def delete_all(conn: sqlite3.Connection) -> list[bool]:
            acked = []
            for message in messages:
                try:
                    seq = _seq(message)
                except LeaseLost:
                    acked.append(False)
                    continue
                cur = conn.execute("DELETE FROM messages WHERE seq = ? AND pop_receipt = ?", (seq, message.pop_receipt))
                acked.append(cur.rowcount == 1)
            return acked

        return await self._db.write(delete_all)

    async def release(self, message: QueueMessage, *, delay: float = 0.0) -> None:
        await self._with_lease(
            message, "UPDATE messages SET visible_at = ?, pop_receipt = ? WHERE seq = ? AND pop_receipt = ?",
            time.time() + delay, uuid.uuid4().hex,
        )
        self._touch_signal()

    async def dead_letter(self, message: QueueMessage, reason: str) -> None:
        def move(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "DELETE FROM messages WHERE seq = ? AND pop_receipt = ?",
                (_seq(message), message.pop_receipt),
            )
            if cur.rowcount != 1:
                raise LeaseLost()
            conn.execute(
                "INSERT INTO poison (queue, message_id, job_id, dequeue_count, reason, dead_utc)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (self.poison_name, message.message_id, message.job_id, message.dequeue_count, reason[:10_000],
                 utcnow().isoformat()),
            )

        await self._db.write(move)

    async def length(self) -> int:
        row = await self._db.call(
            lambda c: c.execute("SELECT count(*) FROM messages WHERE queue = ?", (self.name,)).fetchone()
        )
        return int(row[0])

    async def poison_length(self) -> int:
        row = await self._db.call(
            lambda c: c.execute("SELECT count(*) FROM poison WHERE queue = ?", (self.poison_name,)).fetchone()
        )
        return int(row[0])

    async def poison_messages(self, limit: int = 32) -> list[PoisonMessage]:
        rows = await self._db.call(lambda c: c.execute(
            "SELECT job_id, reason, dead_utc, dequeue_count FROM poison WHERE queue = ? ORDER BY seq LIMIT ?",
            (self.poison_name, max(0, min(limit, POISON_PEEK_LIMIT))),
        ).fetchall())
        return [PoisonMessage(r[0], r[1], datetime.fromisoformat(r[2]), r[3]) for r in rows]

    async def requeue_poison(self, job_id: str) -> bool:
        # One transaction: the message is back in the queue and out of the poison queue together.
        def move(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("DELETE FROM poison WHERE queue = ? AND job_id = ?", (self.poison_name, job_id))
            if cur.rowcount == 0:
                return False
            self.insert_message(conn, job_id)
            return True

        moved = await self._db.write(move)
        if moved:
            self._touch_signal()
        return moved

    async def purge_poison(self) -> int:
        def purge(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM poison WHERE queue = ?", (self.poison_name,)).rowcount

        return await self._db.write(purge)

    async def check(self) -> None:
        await self._db.call(lambda c: c.execute("SELECT 1").fetchone())

    async def wait_for_work(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._signal_mtime() != self._seen_signal:
                return
            await asyncio.sleep(min(_SIGNAL_CHECK_SECONDS, max(deadline - time.monotonic(), 0)))
