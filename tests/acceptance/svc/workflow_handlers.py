"""The service the workflow acceptance tests start: small job services that workflows chain.

Each run appends a line to ``<marker_dir>/<name>`` so tests can count how often a step's job really ran.

With ``WORKFLOW_TEST_CRASH_DIR`` set, the first delivery of ``file.uploaded`` and of ``file.processed`` kills its
process with SIGKILL: the file's change is stored, and no other subscriber (the workflow triggers) has run yet.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from praisonai_svc import JobContext, JobFailed, ServiceApp
from praisonai_svc.events import Event

app = ServiceApp("Workflow acceptance")
CRASH_DIR = os.environ.get("WORKFLOW_TEST_CRASH_DIR")

if CRASH_DIR:

    @app.events.on("file.*")  # subscribed at import: before the workflow triggers, which the process adds later
    async def kill_9_once(event: Event) -> None:
        if event.topic not in ("file.uploaded", "file.processed"):
            return
        if _deliveries(Path(CRASH_DIR) / event.topic, event.subject) == 1:
            os.kill(os.getpid(), signal.SIGKILL)

    def _deliveries(path: Path, file_id: str) -> int:
        """Note this delivery; how many there have been (a few bytes on a local disk: no need for a thread)."""
        with open(path, "a") as handle:
            handle.write(json.dumps({"file_id": file_id, "pid": os.getpid()}) + "\n")
        return len(path.read_text().splitlines())


def _mark(payload: dict[str, Any], name: str, ctx: JobContext) -> int:
    """Record this run; how many runs of ``name`` there have been, this one included."""
    path = Path(payload["marker_dir"]) / name
    with open(path, "a") as handle:
        handle.write(json.dumps({"job_id": ctx.job_id, "attempt": ctx.attempt, "pid": os.getpid(),
                                 "t": time.time()}) + "\n")
    return len(path.read_text().splitlines())


@app.job("shout")
def shout(payload: dict[str, Any], ctx: JobContext) -> tuple[bytes, str, str]:
    if payload.get("marker_dir"):
        _mark(payload, payload.get("name", "shout"), ctx)
    time.sleep(float(payload.get("seconds", 0)))
    return str(payload.get("text", "")).upper().encode(), "text/plain", "shout.txt"


@app.job("flaky", max_attempts=1)
def flaky(payload: dict[str, Any], ctx: JobContext) -> tuple[bytes, str, str]:
    runs = _mark(payload, payload.get("name", "flaky"), ctx)
    if runs < int(payload["succeed_on"]):
        raise JobFailed(f"run {runs} fails on purpose")
    return b"finally", "text/plain", "flaky.txt"
