"""What /health and /ready make of the cron scheduler: read from the leader lease, which carries its status.

The scheduler is the leader service ``workflow-scheduler``; the process holding the leader lease runs it, and
each lease renewal carries that process's heartbeat with the scheduler's details (instance, last tick, next due
time, counts; :meth:`~praisonai_svc.workflows.scheduler.CronScheduler.details`). So the scheduler writes no
record of its own. ``/ready`` treats the scheduler as leaderless when the lease has been expired for longer than
a lease period (nobody took over); a scheduler that operators stopped shows as ``stopped``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from praisonai_svc.cluster import KIND
from praisonai_svc.errors import StorageError
from praisonai_svc.records import RecordStore
from praisonai_svc.services.leader import ALL_LEADER_SERVICES, lease_id

SCHEDULER = "workflow-scheduler"


async def scheduler_health(records: RecordStore, lease_seconds: float) -> dict[str, Any]:
    """``{state: ok | leaderless | not started | unknown, leader, last_tick, next_due, ...}``."""
    try:
        record = await records.find(KIND, lease_id(ALL_LEADER_SERVICES))
    except StorageError as exc:
        return {"state": "unknown", "error": str(exc)}
    if record is None:
        return {"state": "not started"}
    expires_at = float(record.body.get("expires_at", 0.0))
    instance = record.body.get("instance") or {}
    report = (instance.get("services") or {}).get(SCHEDULER) or {}
    details = report.get("details") or {}
    heartbeat_at = datetime.fromtimestamp(expires_at - lease_seconds, UTC).isoformat()
    if time.time() - expires_at > lease_seconds:
        state = "leaderless"
    else:
        state = "ok" if report.get("state", "running") == "running" else str(report["state"])
    return {"state": state, "leader": details.get("instance") or record.body.get(
        "holder"), "heartbeat_at": heartbeat_at, "last_tick": details.get("last_tick"),
        "next_due": details.get("next_due"), "scheduled_workflows": details.get("scheduled_workflows"),
        "fired": details.get("fired")}
