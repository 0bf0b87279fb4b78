"""Run one extraction in a child process, with its own time and memory limits.

Parsers of hostile documents can loop, recurse or allocate without bound, and a Python thread cannot be
stopped. So each extraction runs in a child process forked by a small fork server (:mod:`.sandbox_server`, one
per worker process, started on first use with the parsers already imported, so a child starts in about a
millisecond): the child caps its own address space (``RLIMIT_AS``), and the worker kills it when the time limit
passes. Whatever the document does, the worker process carries on. Waiting is asyncio all the way (a Unix
socket per extraction), so no thread is held while a document is parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from praisonai_svc.files.extractors import Extraction, ExtractionError, Limits


class _ForkServer:
    """The fork server of this process (restarted if it died, started afresh in a forked copy of this one)."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="praisonai-extract-")  # mode 700: only we can connect
        self.socket_path = os.path.join(self.folder, "server.sock")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "praisonai_svc.files.sandbox_server", self.socket_path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != b"ready":  # not the document's fault: the job is retried
            raise RuntimeError("The extraction fork server could not start; see the worker's log.")
        self.owner = os.getpid()

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.process.poll() is None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_server: _ForkServer | None = None
_server_lock = threading.Lock()


def _fork_server() -> _ForkServer:
    global _server
    with _server_lock:
        if _server is None or not _server.alive():
            _server = _ForkServer()
        return _server


async def extract_isolated(
    extension: str, data: bytes, limits: Limits, *, timeout: float, memory_mb: int
) -> Extraction:
    """Extract ``data`` (a ``.extension`` file) in a child process; ExtractionError on any failure or timeout."""
    server = await asyncio.to_thread(_fork_server)
    with tempfile.TemporaryDirectory(prefix="praisonai-upload-") as folder:
        path = Path(folder) / f"upload.{extension}"
        await asyncio.to_thread(path.write_bytes, data)
        request = pickle.dumps((extension, str(path), limits, memory_mb), protocol=pickle.HIGHEST_PROTOCOL)
        reply = await _ask(server.socket_path, request, timeout)
    return _outcome(reply, memory_mb)


async def _ask(socket_path: str, request: bytes, timeout: float) -> bytes:
    reader, writer = await asyncio.open_unix_connection(socket_path)
    pid = 0
    answered = False
    try:
        writer.write(request)
        await writer.drain()
        writer.write_eof()
        pid = struct.unpack("!I", await reader.readexactly(4))[0]
        reply = await asyncio.wait_for(reader.read(), timeout)
        answered = True  # the child closed its end: it has exited (or is exiting) on its own
        return reply
    except TimeoutError:
        raise ExtractionError(
            f"Extraction took longer than {timeout:g} s and was stopped (PRAISONAI_FILES_EXTRACT_TIMEOUT_SECONDS); "
            "the document is too large or too complex."
        ) from None
    except asyncio.IncompleteReadError:
        return b""
    finally:
        if pid and not answered:  # a timeout, a cancellation (job timeout, shutdown) or an error: stop it now
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        writer.close()


def _outcome(reply: bytes, memory_mb: int) -> Extraction:
    if not reply:
        raise ExtractionError(
            "The extractor stopped without a result: the document probably needs more than "
            f"{memory_mb} MB (PRAISONAI_FILES_EXTRACT_MEMORY_MB), or it crashed the parser."
        )
    outcome: Any = pickle.loads(reply)
    kind, first, second = outcome
    if kind == "error":
        raise ExtractionError(str(first))
    return Extraction(content=first, metadata=second)
