"""The service bench_outputs.py runs: a job of N outputs of M bytes each (written to disk, handed over as paths)."""

import os
import tempfile
from pathlib import Path

from praisonai_svc import Outputs, ServiceApp

app = ServiceApp("Bench outputs")


@app.job("files")
def files(payload: dict) -> Outputs:
    outputs = Outputs()
    scratch = Path(tempfile.mkdtemp(prefix="bench-outputs-"))
    for index in range(int(payload["count"])):
        path = scratch / f"part-{index:02d}.bin"
        path.write_bytes(os.urandom(int(payload["size"])))
        outputs.add(path, "application/octet-stream", path.name)
    return outputs


@app.job("noop")
def noop(payload: dict) -> tuple[bytes, str, str]:
    return b"ok", "text/plain", "ok.txt"
