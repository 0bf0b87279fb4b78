"""What a handler returns, checked and normalised into :class:`PendingOutput` items (nothing is read yet)."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from praisonai_svc.errors import HandlerResultError, OutputStreamSpent
from praisonai_svc.registry import HandlerOutput, is_media_type

# A job record holds every output's metadata (Azure: one 64 KiB table property), so the count is bounded.
MAX_OUTPUTS = 64
MAX_CONTENT_TYPE = 100
Source = bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]


@dataclass(frozen=True)
class PendingOutput:
    """One output as the handler gave it: bytes, a file on disk, or an open binary file object."""

    source: bytes | Path | IO[bytes]
    content_type: str
    filename: str
    _opened: list[bool] = field(default_factory=list, compare=False, repr=False)  # a mutable "read before" mark

    @property
    def from_handler_stream(self) -> bool:
        """Whether the source is a file object the handler opened (closed by :meth:`release`, not by readers)."""
        return not isinstance(self.source, bytes | Path)

    def open(self) -> IO[bytes]:
        """A binary stream of the output from its start. Bytes and paths give a new stream (the caller closes
        it); a handler's file object is rewound, so a retried upload sends it whole again, and stays open. A
        file object that cannot be rewound cannot be sent twice: OutputStreamSpent (the attempt fails)."""
        if isinstance(self.source, bytes):
            return io.BytesIO(self.source)
        if isinstance(self.source, Path):
            return self.source.open("rb")
        if self.source.seekable():
            self.source.seek(0)
        elif self._opened:
            raise OutputStreamSpent(f"Output {self.filename!r} is a stream that cannot be rewound, so it cannot be "
                                    "stored again after a storage outage; return bytes or a path to avoid this.")
        self._opened.append(True)
        return self.source

    def release(self) -> None:
        """Close the handler's file object (if it gave one) once the output is stored or given up."""
        if self.from_handler_stream:
            with contextlib.suppress(Exception):  # a handler's odd file object must not fail a finished job
                self.source.close()  # type: ignore[union-attr]


class Outputs:
    """Collect a job's output files as the handler makes them, then ``return outputs``.

    >>> outputs = Outputs()
    >>> outputs.add(b"%PDF...", "application/pdf", "report.pdf")
    >>> outputs.add(Path("/tmp/big.csv"), "text/csv", "data.csv")   # streamed from disk when stored

    Names are made safe and unique when stored (``a.png``, ``a-2.png``, ...).
    """

    def __init__(self) -> None:
        self._items: list[PendingOutput] = []

    def add(self, data: Source, content_type: str, filename: str) -> None:
        """Add one file: ``data`` is bytes, a path (``str`` or ``Path``) or a binary file object."""
        if len(self._items) >= MAX_OUTPUTS:
            raise HandlerResultError(f"A job has at most {MAX_OUTPUTS} output files; bundle the rest yourself.")
        self._items.append(_pending(data, content_type, filename))

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[PendingOutput]:
        return iter(self._items)


def _pending(data: Any, content_type: Any, filename: Any) -> PendingOutput:
    if not isinstance(content_type, str) or not is_media_type(content_type):
        raise HandlerResultError(
            f"Handler's content type {content_type!r} is not a valid media type: return one such as "
            "'application/pdf' or 'text/plain; charset=utf-8' (type/subtype, then optional ; name=value).")
    if len(content_type) > MAX_CONTENT_TYPE:
        raise HandlerResultError(f"Handler's content type is longer than {MAX_CONTENT_TYPE} characters: "
                                 f"{content_type[:MAX_CONTENT_TYPE]!r}...")
    if not isinstance(filename, str) or not filename.strip():
        raise HandlerResultError(f"Handler's filename must be a non-empty string, not {filename!r}.")
    if isinstance(data, bytes | bytearray | memoryview):
        return PendingOutput(bytes(data), content_type, filename)
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        if not path.is_file():
            raise HandlerResultError(f"Handler returned the path {str(path)!r}, which is not a file.")
        return PendingOutput(path, content_type, filename)
    if hasattr(data, "read"):
        return PendingOutput(data, content_type, filename)
    raise HandlerResultError(
        f"An output must be bytes, a path or a binary file object, not {type(data).__name__}."
    )


def _triple(value: Any) -> PendingOutput:
    if isinstance(value, PendingOutput):
        return value
    if isinstance(value, HandlerOutput):  # what built-in services (plugins) return
        return _pending(value.data, value.content_type, value.filename)
    if not isinstance(value, tuple) or len(value) != 3:
        raise HandlerResultError(
            "Handler must return (bytes, content_type, filename), a list of such tuples or an Outputs; "
            f"it returned {type(value).__name__}."
        )
    return _pending(*value)


def coerce_outputs(value: Any) -> list[PendingOutput]:
    """The handler's return value as a non-empty list of outputs; HandlerResultError naming what is wrong."""
    if isinstance(value, Outputs):
        items = list(value)
    elif isinstance(value, list):
        items = [_triple(item) for item in value]
    else:
        items = [_triple(value)]
    if not items:
        raise HandlerResultError("Handler returned no output files; return at least one.")
    if len(items) > MAX_OUTPUTS:
        raise HandlerResultError(f"A job has at most {MAX_OUTPUTS} output files; it returned {len(items)}.")
    return items
