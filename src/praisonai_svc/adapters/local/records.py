"""SQLite :class:`~praisonai_svc.records.RecordStore` in the local backend's database file.

A ``records`` row holds the JSON body, the fields (as JSON, to rebuild the record) and the expiry; each indexed
field also gets a ``record_fields`` row, so an equality filter is an index range scan rather than a table scan.
ETags are integers incremented by every write; writes are group-committed like every other local write.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime

from praisonai_svc.adapters.local.db import Database
from praisonai_svc.errors import ConcurrencyConflict, RecordExists, RecordNotFound
from praisonai_svc.records import Record, RecordPage, RecordStore, check_kind, check_record, decode_body, encode_body

_COLUMNS = "r.kind, r.id, r.etag, r.body, r.fields, r.expires"
Row = tuple[str, str, int, str, str, float | None]


def _record(row: Row) -> Record:
    kind, record_id, etag, body, fields, expires = row
    return Record(
        kind=kind, id=record_id, body=decode_body(body), fields=json.loads(fields),
        expires_utc=None if expires is None else datetime.fromtimestamp(expires, UTC), etag=str(etag),
    )


def _expires(record: Record) -> float | None:
    return None if record.expires_utc is None else record.expires_utc.timestamp()


def _list_query(
    kind: str, filters: list[tuple[str, str]], cursor: str | None, limit: int
) -> tuple[str, list[object]]:
    """With filters, walk the first filter's ``record_fields`` range (already in id order) and check the rest."""
    args: list[object] = []
    if filters:
        (first_name, first_value), rest = filters[0], filters[1:]
        sql = (f"SELECT {_COLUMNS} FROM record_fields f0 JOIN records r ON r.kind = f0.kind AND r.id = f0.id "
               "WHERE f0.kind = ? AND f0.name = ? AND f0.value = ?")
        args += [kind, first_name, first_value]
        id_column = "f0.id"
    else:
        rest = []
        sql = f"SELECT {_COLUMNS} FROM records r WHERE r.kind = ?"
        args.append(kind)
        id_column = "r.id"
    for name, value in rest:
        sql += (" AND EXISTS (SELECT 1 FROM record_fields f WHERE f.kind = r.kind AND f.name = ? AND f.value = ?"
                " AND f.id = r.id)")
        args += [name, value]
    if cursor is not None:
        sql += f" AND {id_column} > ?"
        args.append(cursor)
    sql += f" ORDER BY {id_column} LIMIT ?"
    args.append(limit)
    return sql, args


class SqliteRecordStore(RecordStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def _write_row(conn: sqlite3.Connection, record: Record, body: str, etag: int, *, new: bool = False) -> Record:
        """Write the record row and its field rows; ``new``: a plain INSERT (sqlite3.IntegrityError if it exists),
        which has no field rows to remove (a delete always removes them with the record)."""
        fields = dict(record.fields)
        row = (record.kind, record.id, etag, body, json.dumps(fields) if fields else "{}", _expires(record))
        columns = "records (kind, id, etag, body, fields, expires) VALUES (?, ?, ?, ?, ?, ?)"
        if new:
            conn.execute(f"INSERT INTO {columns}", row)
        else:
            conn.execute(f"INSERT OR REPLACE INTO {columns}", row)
            conn.execute("DELETE FROM record_fields WHERE kind = ? AND id = ?", (record.kind, record.id))
        if fields:
            conn.executemany(
                "INSERT INTO record_fields (kind, name, value, id) VALUES (?, ?, ?, ?)",
                [(record.kind, name, value, record.id) for name, value in fields.items()],
            )
        return Record(record.kind, record.id, decode_body(body), fields, record.expires_utc, str(etag))

    @staticmethod
    def _current_etag(conn: sqlite3.Connection, kind: str, record_id: str) -> int | None:
        row = conn.execute("SELECT etag FROM records WHERE kind = ? AND id = ?", (kind, record_id)).fetchone()
        return None if row is None else int(row[0])

    async def create(self, record: Record) -> Record:
        check_record(record)
        body = encode_body(record)

        def insert(conn: sqlite3.Connection) -> Record:
            try:
                return self._write_row(conn, record, body, 1, new=True)
            except sqlite3.IntegrityError:
                raise RecordExists(f"{record.kind} {record.id} already exists.") from None

        return await self._db.write(insert)

    async def get(self, kind: str, record_id: str) -> Record:
        def read(conn: sqlite3.Connection) -> Row | None:
            row: Row | None = conn.execute(
                f"SELECT {_COLUMNS} FROM records r WHERE r.kind = ? AND r.id = ?", (kind, record_id)
            ).fetchone()
            return row

        row = await self._db.call(read)
        if row is None:
            raise RecordNotFound(f"No {kind} record {record_id!r}.")
        return _record(row)

    async def replace(self, record: Record) -> Record:
        check_record(record)
        body = encode_body(record)

        def write(conn: sqlite3.Connection) -> Record:
            current = self._current_etag(conn, record.kind, record.id)
            if record.etag is not None:
                if current is None:
                    raise RecordNotFound(f"No {record.kind} record {record.id!r}.")
                if str(current) != record.etag:
                    raise ConcurrencyConflict()
            return self._write_row(conn, record, body, (current or 0) + 1)

        return await self._db.write(write)

    async def delete(self, kind: str, record_id: str, *, etag: str | None = None) -> None:
        def remove(conn: sqlite3.Connection) -> None:
            current = self._current_etag(conn, kind, record_id)
            if current is None:
                return
            if etag is not None and str(current) != etag:
                raise ConcurrencyConflict()
            conn.execute("DELETE FROM records WHERE kind = ? AND id = ?", (kind, record_id))
            conn.execute("DELETE FROM record_fields WHERE kind = ? AND id = ?", (kind, record_id))

        await self._db.write(remove)

    async def list(
        self, kind: str, *, where: Mapping[str, str] | None = None, limit: int = 50, cursor: str | None = None,
    ) -> RecordPage:
        check_kind(kind)
        filters = sorted((where or {}).items())
        limit = max(int(limit), 0)
        sql, args = _list_query(kind, filters, cursor, limit + 1)
        def read(conn: sqlite3.Connection) -> list[Row]:
            return list(conn.execute(sql, args).fetchall())

        rows = await self._db.call(read)
        page = [_record(row) for row in rows[:limit]]
        return RecordPage(page, page[-1].id if len(rows) > limit and page else None)

    async def expired(self, kind: str, *, before: datetime, limit: int = 100) -> builtins.list[Record]:
        check_kind(kind)

        def read(conn: sqlite3.Connection) -> list[Row]:
            return list(conn.execute(
                f"SELECT {_COLUMNS} FROM records r WHERE r.kind = ? AND r.expires IS NOT NULL AND r.expires < ? "
                "ORDER BY r.expires, r.id LIMIT ?", (kind, before.timestamp(), int(limit)),
            ).fetchall())

        return [_record(row) for row in await self._db.call(read)]

    async def check(self) -> None:
        await self._db.call(lambda conn: conn.execute("SELECT 1 FROM records LIMIT 1").fetchall())
