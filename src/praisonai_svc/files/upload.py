"""Checks on an upload while it streams: name and extension first, then magic bytes, size and hash as it flows.

Nothing here buffers the file: chunks pass through to the blob store as they arrive, and raising from the
stream makes the blob store drop what it received (BlobStore.put_stream is all or nothing).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field

from praisonai_svc.files.errors import FileRejected, FileTooLarge
from praisonai_svc.files.extractors import HEAD_BYTES, Extractor, extractor_for
from praisonai_svc.files.sizes import format_size

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME = 255


def client_filename(name: str) -> str:
    """The client's name for the file: its last path component, without control characters, at most 255."""
    base = re.split(r"[\\/]", name or "")[-1]
    return _CONTROL.sub("", base).strip()[:MAX_NAME]


def extension_of(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename.strip(".") else ""


def choose_extractor(filename: str, allowed: list[str]) -> tuple[str, Extractor]:
    """The upload's extension and extractor; FileRejected (400) when it is not accepted."""
    extension = extension_of(filename)
    accepted = ", ".join(allowed)
    if not extension or extension not in allowed:
        shown = f"'.{extension}'" if extension else "without an extension"
        raise FileRejected(f"Files {shown} are not accepted; allowed: {accepted} (PRAISONAI_FILES_ALLOWED_EXTENSIONS).")
    extractor = extractor_for(extension)
    if extractor is None:
        raise FileRejected(f"'.{extension}' is in PRAISONAI_FILES_ALLOWED_EXTENSIONS, but no extractor reads it.")
    return extension, extractor


@dataclass
class StreamCheck:
    """Counts, hashes and checks the bytes of one upload as they pass through :meth:`stream`."""

    filename: str
    extension: str
    extractor: Extractor
    max_size: int
    size: int = 0
    _digest: hashlib._Hash = field(default_factory=hashlib.sha256)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    async def stream(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        head = bytearray()
        checked = False
        async for chunk in chunks:
            self._count(chunk)
            if checked:
                yield chunk
                continue
            head += chunk
            if len(head) >= HEAD_BYTES:
                self._check_head(bytes(head))
                checked = True
                yield bytes(head)
        if not checked:
            if not head:
                raise FileRejected(f"{self.filename} is empty; nothing was stored.")
            self._check_head(bytes(head))
            yield bytes(head)

    def _count(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_size:
            raise FileTooLarge(f"{self.filename} is larger than {format_size(self.max_size)} "
                               "(PRAISONAI_FILES_MAX_SIZE); nothing was stored.")
        self._digest.update(chunk)

    def _check_head(self, head: bytes) -> None:
        problem = self.extractor.check_content(head[:HEAD_BYTES])
        if problem is not None:
            raise FileRejected(f"The content of {self.filename} does not match its .{self.extension} extension "
                               f"(found: {problem}); nothing was stored.")
