"""One SQLite database file shared by the local job store and queues, safe across processes.

WAL mode lets readers run while one writer commits; ``BEGIN IMMEDIATE`` serialises writers of several processes
on one data dir. Two connections per process:

* the *inline* connection runs a statement directly on the event loop thread with ``busy_timeout=0``: an
  uncontended SQLite statement takes tens of microseconds (less than handing it to a thread, which costs
  ~100 µs of wake-ups), and with a zero busy timeout it can never wait for another process's lock;
* when SQLite answers "busy" (another process holds the write lock), the same call is retried on a dedicated
  thread whose connection waits up to 30 s, so a lock wait never blocks the event loop.

Writes are group-committed: every ``write`` issued during one turn of the event loop joins one transaction,
each inside its own SAVEPOINT, so a failing write (e.g. a duplicate) is rolled back alone while the others commit.
Under load this turns N commits (each writing the touched b-tree pages to the WAL) into one.

Automatic checkpoints are off on the inline connection (a checkpoint fsyncs); the thread runs one every
``CHECKPOINT_EVERY`` inline commits instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from praisonai_svc.adapters.waiters import fail_all
from praisonai_svc.errors import StorageUnavailable

T = TypeVar("T")
CHECKPOINT_EVERY = 2000
WAL_SIZE_LIMIT = 64 * 1024 * 1024
VACUUM_PAGES_PER_STEP = 2000  # ~8 MB per step: each step holds the write lock only briefly

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    status TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    etag INTEGER NOT NULL,
    doc TEXT NOT NULL,
    payload TEXT NOT NULL,
    tenant TEXT  -- NULL for untenanted callers; databases from before tenants get it in _migrate
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created_utc, job_id);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created_utc, job_id);
CREATE TABLE IF NOT EXISTS job_hashes (
    payload_hash TEXT PRIMARY KEY,
    job_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- the message id: one b-tree fewer to write per message
    queue TEXT NOT NULL,
    job_id TEXT NOT NULL,
    visible_at REAL NOT NULL,
    dequeue_count INTEGER NOT NULL DEFAULT 0,
    pop_receipt TEXT NOT NULL DEFAULT '',
    inserted_utc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_visibility ON messages (queue, visible_at, seq);
CREATE TABLE IF NOT EXISTS rate_limits (  -- fixed-window counters shared by every process on this data dir
    key TEXT NOT NULL,
    window_seconds INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (key, window_seconds)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (  -- the generic record port (praisonai_svc.records)
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    etag INTEGER NOT NULL,
    body TEXT NOT NULL,
    fields TEXT NOT NULL,
    expires REAL,  -- unix seconds; NULL = never
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_by_expiry ON records (kind, expires) WHERE expires IS NOT NULL;
CREATE TABLE IF NOT EXISTS record_fields (  -- one row per indexed field of a record, for equality filters
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (kind, name, value, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blobs (  -- small outputs (adapters/local/blobs.py); larger ones are files
    name TEXT PRIMARY KEY,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS poison (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    dequeue_count INTEGER NOT NULL,
    reason TEXT NOT NULL,
    dead_utc TEXT NOT NULL
);
"""


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a database created by an older version up to SCHEMA (safe when several processes race)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
    if "tenant" not in columns:
        try:
            conn.execute("ALTER TABLE jobs ADD COLUMN tenant TEXT")
        except sqlite3.OperationalError as exc:
            if "duplicate column" not in str(exc).lower():
                raise
    # Partial: untenanted jobs pay nothing for it, and status updates never touch the tenant column.
    conn.execute(
        "CREATE INDEX IF NOT EXISTS jobs_by_tenant ON jobs (tenant, created_utc, job_id) WHERE tenant IS NOT NULL"
    )


_Write = tuple[Callable[[sqlite3.Connection], Any], "asyncio.Future[Any]"]


def _deliver(batch: list[_Write], outcomes: list[tuple[bool, Any]]) -> None:
    for (_fn, future), (ok, value) in zip(batch, outcomes, strict=True):
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _run_batch(conn: sqlite3.Connection, batch: list[_Write]) -> list[tuple[bool, Any]]:
    """One transaction for the whole batch; returns (ok, result-or-exception) per write.

    Optimistic: the writes run one after another without savepoints (two statements fewer per write, a third
    of a short job's statements). Only if one raises is the transaction rolled back and the batch run again
    with one SAVEPOINT per write, so that the failing write is rolled back alone while the others commit (the
    writes are SQL closures: running one again after a rollback is safe).
    """
    if len(batch) > 1:
        conn.execute("BEGIN IMMEDIATE")
        try:
            results = [fn(conn) for fn, _future in batch]
        except sqlite3.OperationalError:
            _rollback(conn)
            raise  # busy or broken: the whole batch is retried on the thread or fails together
        except Exception:
            _rollback(conn)  # one write failed: again, each write on its own
        except BaseException:
            _rollback(conn)
            raise
        else:
            conn.execute("COMMIT")
            return [(True, result) for result in results]
    return _run_batch_savepoints(conn, batch)


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _run_batch_savepoints(conn: sqlite3.Connection, batch: list[_Write]) -> list[tuple[bool, Any]]:
    """One transaction, one SAVEPOINT per write (none for a single write: the transaction is its savepoint)."""
    single = len(batch) == 1
    conn.execute("BEGIN IMMEDIATE")
    outcomes: list[tuple[bool, Any]] = []
    try:
        for fn, _future in batch:
            if not single:
                conn.execute("SAVEPOINT w")
            try:
                outcomes.append((True, fn(conn)))
            except sqlite3.OperationalError:
                raise  # busy or broken: the whole batch is retried on the thread or fails together
            except Exception as exc:
                conn.execute("ROLLBACK" if single else "ROLLBACK TO w")
                outcomes.append((False, exc))
                if single:
                    return outcomes
            if not single:
                conn.execute("RELEASE w")
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise
    return outcomes


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class Database:
    """A SQLite file: ``call`` runs ``fn(conn)``, ``write`` runs it in a write transaction."""

    def __init__(self, path: Path, *, synchronous: str = "normal") -> None:
        self.path = path
        if synchronous not in ("normal", "full"):
            raise ValueError(f"synchronous must be 'normal' or 'full', not {synchronous!r}")
        self.synchronous = synchronous.upper()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="praisonai-sqlite")
        self._threaded: sqlite3.Connection | None = None
        self._inline: sqlite3.Connection | None = None
        self._inline_commits = 0
        self._pending: list[_Write] = []
        self._background: set[asyncio.Future[None]] = set()
        self.fallbacks = 0  # how often "busy" sent a call to the thread (visible to benchmarks)
        self.commits = 0
        self.writes = 0

    def _open(self, busy_ms: int, autocheckpoint: bool) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=busy_ms / 1000, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=30000")  # schema set-up below may wait for another process
        # Only takes effect on a new database (before its first table): pages freed by the pruner then go back to
        # the file system with `incremental_vacuum` instead of staying in the file forever. Older databases are
        # converted once with `praisonai-svc prune --vacuum` (a full VACUUM).
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("PRAGMA journal_mode=WAL")
        # After each checkpoint that resets the WAL, truncate the file to this size: the WAL stays bounded on
        # disk under continuous load instead of keeping its high-water mark.
        conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        # NORMAL in WAL mode: a commit does not fsync (checkpoints do); a power loss may lose the last commits
        # but never corrupts the file. FULL fsyncs the WAL at every commit (docs/operations.md, Durability).
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.executescript(SCHEMA)
        _migrate(conn)
        conn.execute(f"PRAGMA busy_timeout={busy_ms}")
        if not autocheckpoint:
            conn.execute("PRAGMA wal_autocheckpoint=0")
        return conn

    def _thread_conn(self) -> sqlite3.Connection:
        if self._threaded is None:
            self._threaded = self._open(30_000, autocheckpoint=True)
        return self._threaded

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return fn(self._thread_conn())
        except sqlite3.OperationalError as exc:
            raise StorageUnavailable(f"Local database {self.path} is not usable: {exc}") from exc

    async def _threaded_call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, fn)

    def read_blocking(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read on a short-lived connection of its own, blocking (for the rare callers that cannot await)."""
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            return fn(conn)
        finally:
            conn.close()

    async def call(self, fn: Callable[[sqlite3.Connection], T], *, writes: bool = False) -> T:
        """Run ``fn(conn)`` inline if SQLite can do it without waiting, else on the database thread."""
        if self._inline is None:
            self._inline = await self._threaded_call(lambda _c: self._open(0, autocheckpoint=False))
        try:
            result = fn(self._inline)
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise StorageUnavailable(f"Local database {self.path} is not usable: {exc}") from exc
            self.fallbacks += 1
            return await self._threaded_call(fn)
        if writes:
            self._inline_commits += 1
            if self._inline_commits % CHECKPOINT_EVERY == 0:
                asyncio.get_running_loop().run_in_executor(self._executor, self._checkpoint)
        return result

    def _checkpoint(self) -> None:
        with contextlib.suppress(sqlite3.OperationalError):  # the next checkpoint will catch up
            self._thread_conn().execute("PRAGMA wal_checkpoint(PASSIVE)")

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in a write transaction (rolled back if it raises), group-committed with its peers."""
        loop = asyncio.get_running_loop()
        if self._inline is None:
            self._inline = await self._threaded_call(lambda _c: self._open(0, autocheckpoint=False))
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((fn, future))
        if len(self._pending) == 1:
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        """Commit every write queued during this loop turn, inline; on "busy", hand the batch to the thread."""
        batch, self._pending = self._pending, []
        self.writes += len(batch)
        self.commits += 1
        assert self._inline is not None
        try:
            outcomes = _run_batch(self._inline, batch)
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                unusable = StorageUnavailable(f"Local database {self.path} is not usable: {exc}")
                fail_all((future for _fn, future in batch), unusable)
                return
            self.fallbacks += 1
            task = asyncio.ensure_future(self._flush_on_thread(batch))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return
        self._inline_commits += 1
        if self._inline_commits % CHECKPOINT_EVERY == 0:
            asyncio.get_running_loop().run_in_executor(self._executor, self._checkpoint)
        _deliver(batch, outcomes)

    async def _flush_on_thread(self, batch: list[_Write]) -> None:
        try:
            outcomes = await self._threaded_call(lambda conn: _run_batch(conn, batch))
        except Exception as exc:
            fail_all((future for _fn, future in batch), exc)
            return
        _deliver(batch, outcomes)

    def _compact(self, full: bool) -> None:
        conn = self._thread_conn()
        if full:
            conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            conn.execute("VACUUM")  # rewrites the whole file once; makes the auto_vacuum setting take effect
        elif conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
            while True:
                free = conn.execute("PRAGMA freelist_count").fetchone()[0]
                if not free:
                    break
                # executescript, not execute: Python's execute steps this pragma once, which frees one page.
                conn.executescript(f"PRAGMA incremental_vacuum({VACUUM_PAGES_PER_STEP});")
                if free <= VACUUM_PAGES_PER_STEP:
                    break
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    async def compact(self, full: bool = False) -> None:
        """Give freed pages back to the file system and truncate the WAL (the pruner calls this after a run).

        ``full`` runs a one-off VACUUM that also converts a database created before auto_vacuum was enabled.
        """
        await self._threaded_call(lambda _conn: self._compact(full))

    async def close(self) -> None:
        inline, self._inline = self._inline, None
        if inline is not None:
            inline.close()

        def _close() -> None:
            if self._threaded is not None:
                self._threaded.execute("PRAGMA wal_checkpoint(PASSIVE)")
                self._threaded.close()
                self._threaded = None

        await asyncio.get_running_loop().run_in_executor(self._executor, _close)
        self._executor.shutdown(wait=False)
