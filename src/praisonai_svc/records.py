"""The generic record port: small JSON documents of many kinds, with ETags, a few indexed fields and an expiry.

The features that came after jobs (service control state, leader leases, instance heartbeats, files, workflows,
executions, webhook deliveries, usage buckets) each need a handful of small records. Rather than one port and
three adapters per feature, they share this one port (DESIGN.md §8): a record is ``(kind, id)`` → a JSON body,
plus up to :data:`MAX_FIELDS` short text *fields* that can be filtered on with equality, plus an optional
``expires_utc`` that a pruner lists with :meth:`RecordStore.expired`. Each backend implements it once
(``adapters/<backend>/records.py``) and ``tests/contract/test_record_contract.py`` proves every adapter equal.

Records list in ascending ``id`` order on every backend (that is what Azure Table range scans give for free).
A feature that wants newest first makes its ids with :func:`newest_first_id`; one that wants oldest first uses
:func:`oldest_first_id`.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import os
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from praisonai_svc.errors import ConcurrencyConflict, ConfigError, RecordNotFound, RecordTooLarge

MAX_FIELDS = 6
MAX_FIELD_VALUE = 256  # characters; fields are for filtering, not for content
MAX_BODY_BYTES = 256 * 1024  # UTF-8; an Azure entity holds 1 MiB of UTF-16, so this fits with room to spare
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_FORBIDDEN_ID_CHARS = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")
_MAX_ID = 255
_INVERT = (1 << 64) - 1


@dataclass(frozen=True)
class Record:
    """One stored document. ``etag`` is set by the store (None on a record that was never stored)."""

    kind: str
    id: str
    body: dict[str, Any]
    fields: Mapping[str, str] = field(default_factory=dict)
    expires_utc: datetime | None = None
    etag: str | None = None

    def evolve(self, **changes: Any) -> Record:
        """A copy with ``changes`` applied (keeps the etag, so a conditional write of it still checks it)."""
        return replace(self, **changes)


@dataclass(frozen=True)
class RecordPage:
    """One page of records in ascending id order, and the cursor of the next page (None at the end)."""

    records: list[Record]
    next_cursor: str | None


def check_record(record: Record) -> None:
    """Raise ConfigError when ``record`` breaks the port's rules (a programming error, not user input)."""
    check_kind(record.kind)
    check_id(record.id)
    if len(record.fields) > MAX_FIELDS:
        raise ConfigError(f"A record has at most {MAX_FIELDS} indexed fields; {record.kind} has {len(record.fields)}.")
    for name, value in record.fields.items():
        if not _FIELD_NAME.match(name):
            raise ConfigError(f"Record field name {name!r} is not usable: lowercase letters, digits and _.")
        if not isinstance(value, str) or len(value) > MAX_FIELD_VALUE:
            raise ConfigError(f"Record field {name!r} must be text of at most {MAX_FIELD_VALUE} characters.")
    if record.expires_utc is not None and record.expires_utc.tzinfo is None:
        raise ConfigError("Record expiry must be timezone-aware (UTC).")


def encode_body(record: Record) -> str:
    """The body as compact JSON; RecordTooLarge past :data:`MAX_BODY_BYTES`. Shared by every adapter."""
    try:
        text = json.dumps(record.body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{record.kind} {record.id}: the body is not plain JSON ({exc}).") from exc
    if len(text) > MAX_BODY_BYTES // 4 and len(text.encode()) > MAX_BODY_BYTES:
        raise RecordTooLarge(
            f"{record.kind} {record.id} is {len(text.encode())} bytes; records hold at most {MAX_BODY_BYTES}. "
            "Store large content in the blob store and keep its name in the record."
        )
    return text


def decode_body(text: str) -> dict[str, Any]:
    body = json.loads(text)
    assert isinstance(body, dict)
    return body


def check_kind(kind: str) -> None:
    if not _KIND.match(kind):
        raise ConfigError(f"Record kind {kind!r} is not usable: 1-32 lowercase letters, digits and _.")


def check_id(record_id: str) -> None:
    if not record_id or len(record_id) > _MAX_ID or _FORBIDDEN_ID_CHARS.search(record_id):
        raise ConfigError(
            f"Record id {record_id[:40]!r} is not usable: 1-{_MAX_ID} characters without / \\ # ? or controls."
        )


def usable_id(record_id: str) -> bool:
    """Whether ``record_id`` may be used as a record id (for ids that come from users)."""
    return bool(record_id) and len(record_id) <= _MAX_ID and not _FORBIDDEN_ID_CHARS.search(record_id)


def oldest_first_id() -> str:
    """A random id whose ascending order is creation order (ns clock, then 64 random bits)."""
    return f"{time.time_ns():016x}{os.urandom(8).hex()}"


def newest_first_id() -> str:
    """A random id whose ascending order is *reverse* creation order, so lists show the newest first."""
    return f"{_INVERT - time.time_ns():016x}{os.urandom(8).hex()}"


class RecordStore(ABC):
    """Small JSON records by ``(kind, id)`` with ETag-conditional writes, equality-indexed fields and expiry.

    Every method is a coroutine that never blocks the event loop. Unreachable storage raises
    :class:`~praisonai_svc.errors.StorageUnavailable`. A body that serialises to more than
    :data:`MAX_BODY_BYTES` raises :class:`~praisonai_svc.errors.RecordTooLarge`.
    """

    @abstractmethod
    async def create(self, record: Record) -> Record:
        """Store a new record and return it with its etag.

        Raises :class:`~praisonai_svc.errors.RecordExists` when ``(kind, id)`` is taken; exactly one of N
        concurrent creates of the same id succeeds, on every backend (this is what leases and exactly-once
        firings build on).
        """

    @abstractmethod
    async def get(self, kind: str, record_id: str) -> Record:
        """The record with a fresh etag. Raises :class:`~praisonai_svc.errors.RecordNotFound`."""

    @abstractmethod
    async def replace(self, record: Record) -> Record:
        """Write ``record`` whole; return it with its new etag.

        With ``record.etag`` set the write happens only if the stored etag still equals it, else
        :class:`~praisonai_svc.errors.ConcurrencyConflict`; a missing record raises
        :class:`~praisonai_svc.errors.RecordNotFound`. With ``etag=None`` it is an unconditional upsert.
        """

    @abstractmethod
    async def delete(self, kind: str, record_id: str, *, etag: str | None = None) -> None:
        """Remove the record; idempotent (a missing record is not an error).

        With ``etag``, only if the stored record is unchanged, else ConcurrencyConflict.
        """

    @abstractmethod
    async def list(
        self, kind: str, *, where: Mapping[str, str] | None = None, limit: int = 50, cursor: str | None = None,
    ) -> RecordPage:
        """Records of ``kind`` whose fields equal every ``where`` item, ascending by id, at most ``limit``.

        ``cursor`` is a previous page's ``next_cursor``. Cost grows with the records of ``kind`` scanned, so
        features keep hot kinds small (pruning) or filter on a field.
        """

    @abstractmethod
    async def expired(self, kind: str, *, before: datetime, limit: int = 100) -> builtins.list[Record]:
        """Up to ``limit`` records of ``kind`` whose ``expires_utc`` is before ``before``, in no set order."""

    @abstractmethod
    async def check(self) -> None:
        """Cheap health probe. Raises StorageUnavailable when the store is not usable."""

    async def find(self, kind: str, record_id: str) -> Record | None:
        """The record, or None when there is none."""
        try:
            return await self.get(kind, record_id)
        except RecordNotFound:
            return None

    async def count(self, kind: str, *, where: Mapping[str, str] | None = None, limit: int = 100_000) -> int:
        """How many records match (pages through :meth:`list`; stops counting at ``limit``)."""
        total, cursor = 0, None
        while total < limit:
            page = await self.list(kind, where=where, limit=min(1000, limit - total), cursor=cursor)
            total += len(page.records)
            cursor = page.next_cursor
            if cursor is None:
                break
        return total

    async def close(self) -> None:
        """Release connections. Idempotent."""


async def update_record(
    store: RecordStore, kind: str, record_id: str,
    change: Callable[[Record], Record | Awaitable[Record | None] | None], *, attempts: int = 10,
) -> Record | None:
    """Read, change and conditionally write a record, retrying on conflicts (optimistic concurrency).

    ``change`` gets the current record and returns the new one, or None to leave it as it is (then the current
    record is returned). Raises RecordNotFound if the record does not exist, ConcurrencyConflict if ``attempts``
    conflicting writes in a row lost.
    """
    for attempt in range(attempts):
        current = await store.get(kind, record_id)
        outcome = change(current)
        changed = await outcome if isinstance(outcome, Awaitable) else outcome
        if changed is None:
            return current
        try:
            return await store.replace(replace(changed, etag=current.etag))
        except ConcurrencyConflict:
            await asyncio.sleep(0.005 * (attempt + 1))
    raise ConcurrencyConflict(f"{kind} {record_id} kept changing under us; try again.")
