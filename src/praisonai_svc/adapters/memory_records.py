"""In-memory :class:`~praisonai_svc.records.RecordStore`: process-local, with exactly the port's contract."""

from __future__ import annotations

import builtins
import itertools
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from praisonai_svc.errors import ConcurrencyConflict, RecordExists, RecordNotFound
from praisonai_svc.records import Record, RecordPage, RecordStore, check_kind, check_record, decode_body, encode_body


class MemoryRecordStore(RecordStore):
    def __init__(self) -> None:
        self._records: dict[tuple[str, str], Record] = {}
        self._etags = itertools.count(1)

    def _store(self, record: Record) -> Record:
        check_record(record)
        # A JSON round trip gives the caller a copy, and the same type rules as the real stores.
        stored = replace(
            record, body=decode_body(encode_body(record)), fields=dict(record.fields), etag=str(next(self._etags))
        )
        self._records[(record.kind, record.id)] = stored
        return replace(stored, body=decode_body(encode_body(stored)))

    async def create(self, record: Record) -> Record:
        check_record(record)
        if (record.kind, record.id) in self._records:
            raise RecordExists(f"{record.kind} {record.id} already exists.")
        return self._store(record)

    async def get(self, kind: str, record_id: str) -> Record:
        found = self._records.get((kind, record_id))
        if found is None:
            raise RecordNotFound(f"No {kind} record {record_id!r}.")
        return replace(found, body=decode_body(encode_body(found)), fields=dict(found.fields))

    async def replace(self, record: Record) -> Record:
        check_record(record)
        current = self._records.get((record.kind, record.id))
        if record.etag is not None:
            if current is None:
                raise RecordNotFound(f"No {record.kind} record {record.id!r}.")
            if current.etag != record.etag:
                raise ConcurrencyConflict()
        return self._store(record)

    async def delete(self, kind: str, record_id: str, *, etag: str | None = None) -> None:
        current = self._records.get((kind, record_id))
        if current is None:
            return
        if etag is not None and current.etag != etag:
            raise ConcurrencyConflict()
        del self._records[(kind, record_id)]

    async def list(
        self, kind: str, *, where: Mapping[str, str] | None = None, limit: int = 50, cursor: str | None = None,
    ) -> RecordPage:
        check_kind(kind)
        wanted = dict(where or {})
        matches = sorted(
            (r for (k, rid), r in self._records.items()
             if k == kind and (cursor is None or rid > cursor)
             and all(r.fields.get(name) == value for name, value in wanted.items())),
            key=lambda r: r.id,
        )
        page = [await self.get(kind, r.id) for r in matches[: max(limit, 0)]]
        more = len(matches) > len(page) and bool(page)
        return RecordPage(page, page[-1].id if more else None)

    async def expired(self, kind: str, *, before: datetime, limit: int = 100) -> builtins.list[Record]:
        check_kind(kind)
        due = sorted(
            (r for (k, _), r in self._records.items()
             if k == kind and r.expires_utc is not None and r.expires_utc < before),
            key=lambda r: (r.expires_utc, r.id),
        )
        return [await self.get(kind, r.id) for r in due[:limit]]

    async def check(self) -> None:
        return None
