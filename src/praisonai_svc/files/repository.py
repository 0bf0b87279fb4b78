"""File records in the generic record store (kind ``file``; fields tenant, status, live for listing)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from praisonai_svc.errors import ConcurrencyConflict, RecordNotFound
from praisonai_svc.files.errors import FileNotFound
from praisonai_svc.files.models import KIND, OUTBOX_FIELD, StoredFile
from praisonai_svc.records import Record, RecordStore, update_record, usable_id

LIST_PAGE = 200


class FileRepository:
    def __init__(self, records: RecordStore) -> None:
        self.records = records

    async def create(self, stored: StoredFile) -> StoredFile:
        """Store a new file; the file as stored (with its etag)."""
        return StoredFile.from_record(await self.records.create(stored.to_record()))

    async def find(self, file_id: str) -> StoredFile | None:
        if not usable_id(file_id):
            return None
        record = await self.records.find(KIND, file_id)
        return StoredFile.from_record(record) if record is not None else None

    async def get(self, file_id: str, *, tenant: str | None) -> StoredFile:
        """The file; FileNotFound also when it belongs to another tenant than ``tenant`` (if given)."""
        stored = await self.find(file_id)
        if stored is None or (tenant is not None and stored.tenant != tenant):
            raise FileNotFound()  # another tenant's file is indistinguishable from a missing one
        return stored

    async def change(
        self, file_id: str, change: Callable[[StoredFile], StoredFile | None], *, current: StoredFile | None = None,
    ) -> StoredFile:
        """Apply ``change`` with optimistic concurrency (re-read and retried on conflicts); None leaves it be.

        ``current``, a version of the file with its etag (as a write or read returned it), saves the first read
        when nobody changed the file since: one conditional write instead of a read and a write.
        """
        changed = change(current) if current is not None and current.etag and current.id == file_id else None
        if current is not None and changed is not None:
            try:
                return StoredFile.from_record(await self.records.replace(changed.to_record(etag=current.etag)))
            except ConcurrencyConflict:
                pass  # changed meanwhile (or nothing to change on a stale copy): read it and decide again
            except RecordNotFound:
                raise FileNotFound() from None

        def apply(record: Record) -> Record | None:
            changed = change(StoredFile.from_record(record))
            return changed.to_record(etag=record.etag) if changed is not None else None

        try:
            record = await update_record(self.records, KIND, file_id, apply)
        except RecordNotFound:
            raise FileNotFound() from None
        assert record is not None
        return StoredFile.from_record(record)

    async def page(self, where: Mapping[str, str], *, skip: int, limit: int) -> list[StoredFile]:
        """``limit`` files after the first ``skip`` (ids are newest first), reading pages of LIST_PAGE."""
        found: list[StoredFile] = []
        cursor: str | None = None
        seen = 0
        while len(found) < limit:
            result = await self.records.list(KIND, where=where, limit=LIST_PAGE, cursor=cursor)
            for record in result.records:
                if seen >= skip and len(found) < limit:
                    found.append(StoredFile.from_record(record))
                seen += 1
            cursor = result.next_cursor
            if cursor is None:
                break
        return found

    async def with_pending_events(self, *, cursor: str | None, limit: int = 100) -> tuple[list[StoredFile], str | None]:
        """A page of the files whose outbox holds events (an indexed field: cheap when there are none)."""
        page = await self.records.list(KIND, where={OUTBOX_FIELD: "1"}, limit=limit, cursor=cursor)
        return [StoredFile.from_record(record) for record in page.records], page.next_cursor

    async def count(self, where: Mapping[str, str]) -> int:
        return await self.records.count(KIND, where=where)
