"""The service the workflow acceptance tests start: small job services that workflows chain.

Each run appends a line to ``<marker_dir>/<name>`` so tests can count how often a step's job really ran.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from praisonai_svc import JobContext, JobFailed, ServiceApp

app = ServiceApp("Workflow acceptance")


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
