"""Clients for the live-update routes (an SSE reader) and a webhook receiver that verifies signatures."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from praisonai_svc.webhooks.signing import verify


def sse_events(client: httpx.Client, path: str, headers: dict[str, str] | None = None,
               limit: int | None = None, timeout: float = 60) -> list[dict[str, Any]]:
    """Read an SSE stream until the server ends it (or ``limit`` events): each event's id, type and data."""
    events: list[dict[str, Any]] = []
    for event in iter_sse(client, path, headers, timeout):
        events.append(event)
        if limit is not None and len(events) >= limit:
            break
    return events


def iter_sse(client: httpx.Client, path: str, headers: dict[str, str] | None = None,
             timeout: float = 60) -> Iterator[dict[str, Any]]:
    with client.stream("GET", path, headers=headers, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        current: dict[str, Any] = {}
        for line in response.iter_lines():
            if not line:
                if "data" in current:
                    yield {"id": int(current["id"]), "event": current["event"], "data": json.loads(current["data"])}
                current = {}
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            current[name] = value[1:] if value.startswith(" ") else value


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that answers the first ``fail_first`` deliveries with 500."""

    secret: str
    fail_first: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                valid = verify(receiver.secret, self.headers.get("X-PraisonAI-Signature", ""), body)
                with receiver.lock:
                    answer = 500 if len(receiver.received) < receiver.fail_first else 200
                    receiver.received.append({
                        "valid": valid, "answer": answer, "delivery": self.headers.get("X-PraisonAI-Delivery"),
                        "event": self.headers.get("X-PraisonAI-Event"), "job": json.loads(body)})
                self.send_response(answer if valid else 400)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def successes(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.received if r["answer"] == 200 and r["valid"]]
