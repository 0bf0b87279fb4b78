"""The service of the files acceptance tests: one trivial job service, and a subscriber that logs file events.

Each file event is appended as a JSON line to ``$FILES_EVENT_LOG`` by the process that published it (the API for
uploads and deletes, the worker for extraction outcomes), so tests can count them across processes.
"""

from __future__ import annotations

import asyncio
import json
import os

from praisonai_svc import ServiceApp
from praisonai_svc.events import Event

app = ServiceApp("Files acceptance")


@app.job("echo")
def echo(payload: dict) -> tuple[bytes, str, str]:
    return json.dumps(payload).encode(), "application/json", "echo.json"


@app.events.on("file.*")
async def log_file_event(event: Event) -> None:
    path = os.environ.get("FILES_EVENT_LOG")
    if path:
        line = json.dumps({"topic": event.topic, "file_id": event.subject, "tenant": event.tenant, "pid": os.getpid()})
        await asyncio.to_thread(_append, path, line)


def _append(path: str, line: str) -> None:
    with open(path, "a") as handle:
        handle.write(line + "\n")
