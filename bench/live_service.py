"""The service bench_live.py runs: a ticker whose progress messages carry the wall clock they were sent at."""

import time

from praisonai_svc import JobContext, ServiceApp

app = ServiceApp("Bench live")


@app.job("ticker")
def ticker(payload: dict, ctx: JobContext) -> tuple[bytes, str, str]:
    steps, gap = int(payload["steps"]), float(payload["gap"])
    for step in range(1, steps + 1):
        time.sleep(gap)
        ctx.progress(step / steps, str(time.time_ns()))
    return b"ok", "text/plain", "ok.txt"


@app.job("quick")
def quick(payload: dict) -> tuple[bytes, str, str]:
    return b"ok", "text/plain", "ok.txt"
