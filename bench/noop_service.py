"""The service the benchmarks run: a handler that does nothing but return a few bytes."""

from praisonai_svc import ServiceApp

app = ServiceApp("Bench")


@app.job("noop")
def noop(payload: dict) -> tuple[bytes, str, str]:
    return b"ok", "text/plain", "ok.txt"
