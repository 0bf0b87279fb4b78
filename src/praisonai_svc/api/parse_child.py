"""The program of one body-parsing child process (:mod:`praisonai_svc.api.parse_children` starts it).

It reads frames from stdin and answers each on stdout, one at a time, until stdin closes. A frame is a 4-byte
big-endian length and a pickle: ``(raw, content_type, queued_at, budget_seconds)`` in, ``(True, value)`` or
``(False, exception)`` out. Only the API process that started the child writes to its stdin.
"""

from __future__ import annotations

import pickle
import sys
from typing import Any, BinaryIO

from praisonai_svc.api.parse_work import lower_priority, parse_within_budget
from praisonai_svc.errors import PayloadError

HEADER_BYTES = 4
READY = b"ready\n"  # written once, after the imports


def read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(HEADER_BYTES)
    if len(header) < HEADER_BYTES:
        return None
    size = int.from_bytes(header, "big")
    body = stream.read(size)
    return body if len(body) == size else None


def frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(HEADER_BYTES, "big") + payload


def answer(request: bytes) -> bytes:
    raw, content_type, queued_at, budget_seconds = pickle.loads(request)
    outcome: tuple[bool, Any]
    try:
        outcome = (True, parse_within_budget(raw, content_type, queued_at, budget_seconds))
    except Exception as exc:  # every failure goes back to the API, which decides the status
        outcome = (False, exc)
    try:
        return pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # an exception that cannot be pickled
        return pickle.dumps((False, PayloadError(f"The body could not be parsed: {exc}")))


def main() -> None:
    lower_priority()
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sink.write(READY)
    sink.flush()
    while (request := read_frame(source)) is not None:
        sink.write(frame(answer(request)))
        sink.flush()


if __name__ == "__main__":
    main()
