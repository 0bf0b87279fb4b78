"""The service bench_throughput's recovery trials run: a job that sleeps, marking each attempt's start."""

import json
import os
import time
from pathlib import Path

from praisonai_svc import JobContext, ServiceApp

app = ServiceApp("Recovery")


@app.job("sleep")
def sleep(payload: dict, ctx: JobContext) -> tuple[bytes, str, str]:
    with open(Path(payload["marker_dir"]) / ctx.job_id, "a") as handle:
        handle.write(json.dumps({"attempt": ctx.attempt, "pid": os.getpid(), "t": time.time()}) + "\n")
    time.sleep(float(payload["seconds"]))
    return b"slept", "text/plain", "slept.txt"
