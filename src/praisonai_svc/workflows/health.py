"""The scheduler's heartbeat record and what /health and /ready make of it.

The scheduler writes kind ``wf_scheduler`` id ``status`` at most once per lease period (PRAISONAI_WORKFLOW_
SCHEDULER_LEASE_SECONDS), with its instance, last tick and next due time. ``/ready`` treats the scheduler as
leaderless when that heartbeat is older than twice the lease.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from praisonai_svc.errors import StorageError
from praisonai_svc.models.job import utcnow
from praisonai_svc.records import Record, RecordStore

KIND = "wf_scheduler"
STATUS_ID = "status"


def status_record(*, instance: str | None, last_tick: datetime | None, next_due: datetime | None,
                  scheduled_workflows: int, fired: int) -> Record:
    now = utcnow()
    return Record(KIND, STATUS_ID, {
        "instance": instance, "heartbeat_at": now.isoformat(),
        "last_tick": last_tick.isoformat() if last_tick else None,
        "next_due": next_due.isoformat() if next_due else None,
        "scheduled_workflows": scheduled_workflows, "fired": fired,
    })


async def scheduler_health(records: RecordStore, lease_seconds: float) -> dict[str, Any]:
    """``{state: ok | leaderless | not started | unknown, leader, last_tick, next_due, ...}``."""
    try:
        record = await records.find(KIND, STATUS_ID)
    except StorageError as exc:
        return {"state": "unknown", "error": str(exc)}
    if record is None:
        return {"state": "not started"}
    body = dict(record.body)
    heartbeat = datetime.fromisoformat(str(body["heartbeat_at"]))
    leaderless = utcnow() - heartbeat > timedelta(seconds=2 * lease_seconds)
    return {"state": "leaderless" if leaderless else "ok", "leader": body.get("instance"),
            "heartbeat_at": body.get("heartbeat_at"), "last_tick": body.get("last_tick"),
            "next_due": body.get("next_due"), "scheduled_workflows": body.get("scheduled_workflows"),
            "fired": body.get("fired")}
