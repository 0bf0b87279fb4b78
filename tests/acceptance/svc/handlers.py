"""The service the acceptance tests start with the real CLI. Each payload says how the job behaves.

Every attempt appends a line to ``<marker_dir>/<job_id>`` (start and end), so tests can prove a job ran once.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from praisonai_svc import JobContext, JobFailed, ServiceApp
from praisonai_svc.outputs import Outputs

app = ServiceApp("Acceptance")


def _mark(payload: dict, ctx: JobContext, event: str) -> None:
    marker_dir = payload.get("marker_dir")
    if marker_dir:
        line = json.dumps({"event": event, "attempt": ctx.attempt, "pid": os.getpid(), "t": time.time()})
        with open(Path(marker_dir) / ctx.job_id, "a") as handle:
            handle.write(line + "\n")


@app.job("work")
def work(payload: dict, ctx: JobContext) -> tuple[bytes, str, str]:
    _mark(payload, ctx, "start")
    mode = payload.get("mode", "echo")
    if mode == "sleep":
        seconds = float(payload["seconds"])
        for step in range(10):
            ctx.progress(step / 10, f"step {step}")
            time.sleep(seconds / 10)
    elif mode == "fail":
        raise RuntimeError("this handler always fails")
    elif mode == "fatal":
        raise JobFailed("the payload can never work")
    elif mode == "hang":
        threading.Event().wait()
    elif mode == "bad-return":
        return "not bytes"  # type: ignore[return-value]
    elif mode == "multi":
        return multi_file(payload, ctx)  # type: ignore[return-value]
    _mark(payload, ctx, "end")
    name = payload.get("filename", "result.txt")
    return json.dumps(payload, sort_keys=True).encode(), payload.get("content_type", "text/plain"), name


def multi_file(payload: dict, ctx: JobContext) -> Outputs:
    """Three outputs, one of each source kind: bytes, a path on disk and an open file object."""
    outputs = Outputs()
    outputs.add(("first:" + json.dumps(payload, sort_keys=True)).encode(), "text/plain", "report.txt")
    path = Path(payload["scratch_dir"]) / f"{ctx.job_id}.bin"
    path.write_bytes(os.urandom(int(payload.get("size", 300_000))))
    outputs.add(path, "application/octet-stream", "data.bin")
    outputs.add(open(path, "rb"), "application/octet-stream", "../Data.bin")  # noqa: SIM115 (stored, then closed)
    _mark(payload, ctx, "end")
    return outputs


@app.job("other")
async def other(payload: dict) -> tuple[bytes, str, str]:
    return b"other:" + json.dumps(payload, sort_keys=True).encode(), "text/plain", "other.txt"
