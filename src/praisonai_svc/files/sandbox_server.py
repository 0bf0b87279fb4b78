"""The extraction fork server: ``python -m praisonai_svc.files.sandbox_server SOCKET``.

Started once per worker process (by :mod:`praisonai_svc.files.sandbox`) as a fresh interpreter that imports the
parsers, then forks one child per extraction request from this single-threaded process (forking is safe here,
and a child starts in a millisecond with everything imported). It exits when its parent closes its stdin, and
every child dies with it. A child reads one request (a pickle from the parent: extension, path, limits, memory
limit), sends its pid, limits itself, extracts and sends ``("ok", content, metadata)`` or ``("error", text)``.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import selectors
import signal
import socket
import struct
import sys
from pathlib import Path
from typing import Any

PRELOAD = ("pypdf", "docx", "openpyxl", "charset_normalizer", "defusedxml")


def main(argv: list[str]) -> int:
    from praisonai_svc.files.extractors import extractors

    for module in PRELOAD:
        with contextlib.suppress(ImportError):
            __import__(module)
    extractors()  # import every format module now, not in each child
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(argv[0])
    server.listen(128)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    selector = selectors.DefaultSelector()
    selector.register(server, selectors.EVENT_READ)
    selector.register(sys.stdin, selectors.EVENT_READ)
    while True:
        for key, _events in selector.select():
            if key.fileobj is not server:
                if not os.read(sys.stdin.fileno(), 1024):
                    return 0  # the worker is gone
                continue
            connection, _address = server.accept()
            if os.fork() == 0:
                selector.close()
                server.close()
                _serve(connection)
                os._exit(0)
            connection.close()


def _serve(connection: socket.socket) -> None:
    _die_with_parent()
    connection.sendall(struct.pack("!I", os.getpid()))
    request = pickle.loads(_read_all(connection))
    connection.sendall(pickle.dumps(extract_message(*request), protocol=pickle.HIGHEST_PROTOCOL))
    connection.close()


def _read_all(connection: socket.socket) -> bytes:
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def extract_message(extension: str, path: str, limits: Any, memory_mb: int) -> tuple[str, Any, Any]:
    """Run the extractor under the memory limit; every failure becomes ``("error", message, None)``."""
    from praisonai_svc.files.extractors import ExtractionError, extractor_for

    _limit_memory(memory_mb)
    try:
        extractor = extractor_for(extension)
        if extractor is None:
            raise ExtractionError(f"No extractor reads .{extension} files.")
        result = extractor.extract(Path(path), limits)
        return ("ok", result.content, result.metadata)
    except ExtractionError as exc:
        return ("error", exc.message, None)
    except MemoryError:
        return ("error", f"The document needs more than {memory_mb} MB to extract "
                         "(PRAISONAI_FILES_EXTRACT_MEMORY_MB); it is too large or built to exhaust memory.", None)
    except RecursionError:
        return ("error", "The document is nested too deeply to extract (damaged, or built to crash parsers).", None)
    except Exception as exc:  # any parser failure is a property of this document, not of the worker
        return ("error", f"The file could not be read as .{extension} ({type(exc).__name__}: {exc}); it may be "
                         "damaged or not what its extension says.", None)


def _limit_memory(memory_mb: int) -> None:
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _die_with_parent() -> None:
    """Linux: the kernel kills this child when the fork server dies (which it does when the worker dies)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:
        os._exit(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
