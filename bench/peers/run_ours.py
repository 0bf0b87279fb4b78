"""Enqueue N no-op jobs into praisonai-svc from Python (``app.submit_many``, in process, chunks of 500), then
wait until the worker finished them. Prints ``<enqueue seconds> <first enqueue -> last done seconds>``."""

import asyncio
import sqlite3
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from noop_service import app


async def main(count: int) -> tuple[float, float]:
    run = uuid.uuid4().hex
    started = time.perf_counter()
    for start in range(0, count, 500):
        outcomes = await app.submit_many([{"run": run, "i": i} for i in range(start, min(start + 500, count))])
        errors = [o for o in outcomes if isinstance(o, Exception)]
        assert not errors, errors[:3]
    enqueued = time.perf_counter() - started
    db = sqlite3.connect(app.settings.data_dir / "praisonai.sqlite3")
    # The worker is another process: nothing in this one could set an Event, so poll its database.
    while db.execute("SELECT count(*) FROM jobs WHERE status = 'done'").fetchone()[0] < count:  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    total = time.perf_counter() - started
    assert app.backend is not None
    await app.backend.close()
    return enqueued, total


print(*asyncio.run(main(int(sys.argv[1]))))
