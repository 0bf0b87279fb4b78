"""Crash recovery in seconds, not a lease period: release the leases of worker instances that stopped.

Every worker writes a heartbeat while it holds jobs (worker/instances.py) and records, in each job row it runs,
its instance id and its message's newest pop receipt. Workers look for instances that missed three heartbeats
(:func:`sweep`): once per heartbeat period while they hold jobs themselves or their last sweep saw another
instance's record (a peer holding jobs, or one that stopped), else once per :data:`IDLE_SWEEP_SECONDS` (see
:func:`sweep_due`). For each job such an instance left ``processing`` the sweeping worker

1. moves the row back to ``queued`` with an ETag-conditional update (of several recovering workers one wins; a
   job that moved on meanwhile is left alone), which also **fences** the old attempt: a paused process that
   resumes later cannot store its outcome, since its ETag no longer matches, and its ack fails too;
2. makes the message visible again at once with the recorded pop receipt. The next receive runs the job with
   ``attempts`` + 1, exactly as after a lease expiry.

The lease stays the safety net: if a heartbeat or a release cannot be written, the message still reappears when
its lease expires.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.errors import ConcurrencyConflict, JobNotFound, LeaseLost, StorageError
from praisonai_svc.logs import get_logger, job_logger
from praisonai_svc.models.job import Job, JobStatus, utcnow
from praisonai_svc.ports import QueueMessage
from praisonai_svc.worker.instances import Instance, forget, known_instances

log = get_logger("recovery")
MISSED_BEATS = 3
MAX_ROWS_PER_SWEEP = 1000
# An idle worker whose last sweep saw no other instance's heartbeat record (no peer holds jobs) sweeps this
# seldom, in the copy of the cluster partition its idle poll cycle reads anyway (no request of its own). A peer
# that becomes busy is seen by the next such sweep, and from then on it is watched every heartbeat period; a peer
# that crashes before then is recovered by that sweep or its lease.
IDLE_SWEEP_SECONDS = 60.0


def sweep_due(*, busy: bool, saw_peers: bool, since_last: float, heartbeat: float) -> bool:
    """Whether a worker sweeps now: every heartbeat while it or a peer it saw holds jobs, else every minute."""
    if busy or saw_peers:
        return since_last >= heartbeat * 0.9
    return since_last >= IDLE_SWEEP_SECONDS


@dataclass(frozen=True)
class Sweep:
    released: int  # jobs made runnable again
    peers: int  # heartbeat records of other instances seen (live or dead): a reason to look again soon


async def sweep(app: ServiceApp, backend: Backend, me: str, *, max_age: float = 0.0) -> Sweep:
    """One look at the heartbeat records (in a copy of the cluster partition at most ``max_age`` seconds old:
    one request if it is older): release the jobs of every instance that missed its heartbeats, and say how
    many other instances have a record."""
    interval = app.settings.worker_heartbeat_seconds
    others = [i for i in await known_instances(backend, max_age=max_age) if i.id != me]
    now = time.time()
    dead = [i for i in others if i.missed(now, MISSED_BEATS * interval)]
    return Sweep(await _release_jobs_of(app, backend, dead) if dead else 0, len(others))


async def recover_dead_instances(app: ServiceApp, backend: Backend, me: str) -> int:
    """Release the jobs of every instance that missed its heartbeats; return how many jobs were released."""
    return (await sweep(app, backend, me)).released


async def _release_jobs_of(app: ServiceApp, backend: Backend, dead: list[Instance]) -> int:
    by_id = {instance.id: instance for instance in dead}
    released = 0
    cursor: str | None = None
    seen = 0
    while seen < MAX_ROWS_PER_SWEEP:
        page = await backend.jobs.list(status=JobStatus.PROCESSING, limit=100, cursor=cursor)
        for job in page.jobs:
            if job.worker in by_id and await release_job(app, backend, job, by_id[job.worker]):
                released += 1
        seen += len(page.jobs)
        cursor = page.next_cursor
        if cursor is None:
            break
    for instance in dead:
        with contextlib.suppress(ConcurrencyConflict, StorageError):  # it beat again: alive after all
            await forget(backend, instance)
    log.warning("released the jobs of stopped worker instances",
                extra={"instances": sorted(by_id), "released": released})
    return released


async def release_job(app: ServiceApp, backend: Backend, job: Job, instance: Instance) -> bool:
    spec = app.services.get(job.service)
    jlog = job_logger(job.service, job.job_id, job.attempts, "recovery")
    now = utcnow()
    try:
        await backend.jobs.update(job.model_copy(update={
            "status": JobStatus.QUEUED, "worker": None, "pop_receipt": None, "updated_utc": now,
            "error_msg": f"Attempt {job.attempts} lost its worker ({instance.id} stopped heartbeating); "
                         "running it again",
        }))
    except (ConcurrencyConflict, JobNotFound):
        return False  # it moved on (finished, or another worker released it first)
    if spec is None or not job.message_id or not job.pop_receipt:
        jlog.warning("job released; its message reappears when its lease expires (no receipt recorded)")
        return True
    message = QueueMessage(job.message_id, job.job_id, job.pop_receipt, job.attempts, job.created_utc)
    try:
        await backend.queue(spec.queue_name).release(message)
        backend.hints.ring(spec.queue_name)  # idle workers elsewhere poll it too
        jlog.warning("job released at once: its worker stopped heartbeating", extra={"instance": instance.id})
    except (LeaseLost, StorageError) as exc:
        jlog.warning("job released; its message reappears when its lease expires", extra={"error": str(exc)})
    return True
