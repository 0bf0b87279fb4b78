"""Rate-limit counters in the local SQLite database, shared by every process on the same data dir.

One upsert per hit (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``) inside :meth:`Database.write`, so hits
issued during one event-loop turn share one commit with each other and with job submissions. A row per
(key, window length) holds the current window's start and count; a hit in a later window resets it. Rows of
windows that ended long ago are swept now and then, so the table stays as small as the set of active clients.
"""

from __future__ import annotations

import sqlite3

from praisonai_svc.adapters.local.db import Database
from praisonai_svc.adapters.windows import current_window, decide
from praisonai_svc.ports import RateDecision, RateLimiter

# max(): a process whose clock lags must not reset a window that a process ahead of it already started.
_HIT = """
INSERT INTO rate_limits (key, window_seconds, window_start, count) VALUES (?, ?, ?, 1)
ON CONFLICT (key, window_seconds) DO UPDATE SET
    count = CASE WHEN rate_limits.window_start >= excluded.window_start THEN rate_limits.count + 1 ELSE 1 END,
    window_start = max(rate_limits.window_start, excluded.window_start)
RETURNING count
"""
_SWEEP = "DELETE FROM rate_limits WHERE window_start + window_seconds < ?"
SWEEP_EVERY = 4096


class SqliteRateLimiter(RateLimiter):
    def __init__(self, db: Database) -> None:
        self._db = db
        self._hits = 0

    async def hit(self, key: str, window_seconds: int, limit: int) -> RateDecision:
        start, retry_after = current_window(window_seconds)
        self._hits += 1
        sweep = self._hits % SWEEP_EVERY == 0

        def count_hit(conn: sqlite3.Connection) -> int:
            if sweep:
                conn.execute(_SWEEP, (start,))
            row = conn.execute(_HIT, (key, window_seconds, start)).fetchone()
            return int(row[0])

        return decide(await self._db.write(count_hit), limit, retry_after)
