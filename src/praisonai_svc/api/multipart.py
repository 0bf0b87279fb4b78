"""A streamed ``multipart/form-data`` body: the ``file`` field's bytes as they arrive, never buffered whole.

Starlette's ``request.form()`` spools every file before the route runs; uploads need the opposite (check,
hash and store while reading, refuse an oversized file before it is all read), so the body is fed to
python-multipart's push parser chunk by chunk and the file's data is handed on as it comes.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from praisonai_svc.errors import RequestTimeout
from praisonai_svc.files.errors import FileRejected
from praisonai_svc.files.service import Upload

FILE_FIELD = "file"
MAX_OTHER_FIELDS = 64 * 1024  # bytes of non-file form fields read (and ignored) before refusing the form
Event = tuple[str, Any]


class MultipartFile:
    """Finds the ``file`` field of a streamed multipart body; :meth:`open` returns it as an :class:`Upload`."""

    def __init__(self, chunks: AsyncIterator[bytes], boundary: bytes, *, idle_timeout: float = 30.0) -> None:
        self._chunks = chunks
        self._idle_timeout = idle_timeout
        self._events: deque[Event] = deque()
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._finished = False
        self._parser = MultipartParser(boundary, callbacks={
            "on_part_begin": self._on_part_begin,
            "on_header_field": lambda data, start, end: self._header_name.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._header_value.extend(data[start:end]),
            "on_header_end": self._on_header_end,
            "on_headers_finished": lambda: self._events.append(("headers", dict(self._headers))),
            "on_part_data": lambda data, start, end: self._events.append(("data", bytes(data[start:end]))),
            "on_part_end": lambda: self._events.append(("end", None)),
        })

    @classmethod
    def of(cls, request: Request, *, idle_timeout: float = 30.0) -> MultipartFile:
        content_type = request.headers.get("content-type", "")
        media, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if media != b"multipart/form-data" or not boundary:
            raise FileRejected('Send the file as multipart/form-data in the field "file" '
                               "(e.g. curl -F file=@report.pdf).")
        return cls(request.stream().__aiter__(), boundary, idle_timeout=idle_timeout)

    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_end(self) -> None:
        self._headers[bytes(self._header_name).decode("latin-1").lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    async def _next(self) -> Event:
        while not self._events:
            if self._finished:
                return ("eof", None)
            try:
                chunk = await self._receive()
            except StopAsyncIteration:
                self._finished = True
                self._parser.finalize()
                continue
            try:
                self._parser.write(chunk)
            except Exception as exc:  # python-multipart raises its own errors for malformed bodies
                raise FileRejected(f"The multipart body is malformed ({exc}).") from exc
        return self._events.popleft()

    async def _receive(self) -> bytes:
        """The next chunk of the body; 408 when none arrives for ``idle_timeout`` seconds (a stalled client would
        otherwise hold its connection and its half-written upload forever). Per chunk, not per body: a large
        upload on a slow link is fine as long as it keeps moving."""
        try:
            async with asyncio.timeout(self._idle_timeout):
                return await self._chunks.__anext__()
        except TimeoutError:
            raise RequestTimeout(f"The upload stalled: nothing arrived for {self._idle_timeout:g} s "
                                 "(PRAISONAI_BODY_READ_TIMEOUT_SECONDS); nothing was stored.") from None

    async def open(self) -> Upload:
        """The ``file`` field (earlier fields are skipped); FileRejected when the body has none."""
        other = 0
        while True:
            kind, value = await self._next()
            if kind == "eof":
                raise FileRejected('The upload has no file: send it in the multipart field "file".')
            if kind == "headers":
                filename = _file_field(value)
                if filename is not None:
                    return Upload(filename=filename, chunks=self._file_data())
            elif kind == "data":
                other += len(value)
                if other > MAX_OTHER_FIELDS:
                    raise FileRejected('The form has too much besides the file: send only the field "file".')

    async def _file_data(self) -> AsyncIterator[bytes]:
        while True:
            kind, value = await self._next()
            if kind == "data":
                yield value
            elif kind in ("end", "eof"):
                return

    async def discard_rest(self, *, limit: int, seconds: float) -> bool:
        """Read and drop what the client still sends (at most ``limit`` bytes, ``seconds``); True if all read.

        A refusal (413, 400) is answered only after this: a server that answers and closes while the client is
        still sending makes most clients report a broken connection instead of the answer.
        """
        deadline = time.monotonic() + seconds
        read = 0
        while not self._finished and read <= limit and time.monotonic() < deadline:
            try:
                chunk = await self._receive()
            except (StopAsyncIteration, RequestTimeout):
                self._finished = True
                break
            read += len(chunk)
        return self._finished


def _file_field(headers: dict[str, bytes]) -> str | None:
    """The filename when these part headers are the ``file`` field's, else None."""
    _disposition, options = parse_options_header(headers.get("content-disposition", b""))
    if options.get(b"name") != FILE_FIELD.encode():
        return None
    raw = options.get(b"filename")
    if raw is None:
        raise FileRejected('The "file" field has no filename; send it as a file (curl -F file=@report.pdf).')
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
