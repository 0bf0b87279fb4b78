"""Azure Table :class:`~praisonai_svc.records.RecordStore`, in its own table (``<jobs table>records``).

``PartitionKey`` = kind and ``RowKey`` = id, so reading one record is a point query and listing a kind is one
partition range scan in id order (the order the port promises). The JSON body is split over properties
``B0``, ``B1`` … of at most :data:`CHUNK` characters (a string property holds 64 KiB of UTF-16); fields are
``F_<name>`` properties, filtered by the service; the expiry is the ``Expires`` datetime property. ETags are
Azure's own, so a conditional write is one request with ``If-Match``.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableClient

from praisonai_svc.adapters.azure.errors import is_missing_item, status_of, storage_errors
from praisonai_svc.errors import ConcurrencyConflict, RecordExists, RecordNotFound
from praisonai_svc.records import Record, RecordPage, RecordStore, check_kind, check_record, decode_body, encode_body

CHUNK = 15_000  # characters; ≤ 30,000 UTF-16 code units even if every character is outside the BMP
_FIELD_PREFIX = "F_"


def records_table_name(jobs_table: str) -> str:
    """The records' table: the jobs table's name + ``records`` (within Azure's 63 characters)."""
    return jobs_table[:56] + "records"


def _entity(record: Record, body: str) -> dict[str, Any]:
    entity: dict[str, Any] = {"PartitionKey": record.kind, "RowKey": record.id}
    for index in range(0, max(len(body), 1), CHUNK):
        entity[f"B{index // CHUNK}"] = body[index:index + CHUNK]
    for name, value in record.fields.items():
        entity[_FIELD_PREFIX + name] = value
    if record.expires_utc is not None:
        entity["Expires"] = record.expires_utc
    return entity


def _record(entity: TableEntity) -> Record:
    chunks, fields = [], {}
    index = 0
    while f"B{index}" in entity:
        chunks.append(str(entity[f"B{index}"]))
        index += 1
    for key, value in entity.items():
        if key.startswith(_FIELD_PREFIX):
            fields[key[len(_FIELD_PREFIX):]] = str(value)
    expires = entity.get("Expires")
    return Record(
        kind=str(entity["PartitionKey"]), id=str(entity["RowKey"]), body=decode_body("".join(chunks)),
        fields=fields, expires_utc=expires if isinstance(expires, datetime) else None,
        etag=str(entity.metadata["etag"]),
    )


def _stored(record: Record, body: str, metadata: Mapping[str, Any]) -> Record:
    return Record(record.kind, record.id, decode_body(body), dict(record.fields), record.expires_utc,
                  str(metadata["etag"]))


class AzureRecordStore(RecordStore):
    def __init__(self, table: TableClient) -> None:
        self._table = table

    async def create(self, record: Record) -> Record:
        check_record(record)
        body = encode_body(record)
        with storage_errors(f"create {record.kind} record"):
            try:
                metadata = await self._table.create_entity(_entity(record, body))
            except ResourceExistsError as exc:
                raise RecordExists(f"{record.kind} {record.id} already exists.") from exc
        return _stored(record, body, metadata)

    async def get(self, kind: str, record_id: str) -> Record:
        with storage_errors(f"read {kind} record"):
            try:
                entity = await self._table.get_entity(kind, record_id)
            except HttpResponseError as exc:
                if is_missing_item(exc):
                    raise RecordNotFound(f"No {kind} record {record_id!r}.") from exc
                raise
        return _record(entity)

    async def replace(self, record: Record) -> Record:
        check_record(record)
        body = encode_body(record)
        entity = _entity(record, body)
        with storage_errors(f"write {record.kind} record"):
            try:
                if record.etag is None:
                    metadata = await self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)
                else:
                    metadata = await self._table.update_entity(
                        entity, mode=UpdateMode.REPLACE, etag=record.etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
            except HttpResponseError as exc:
                if status_of(exc) == 412:
                    raise ConcurrencyConflict() from exc
                if is_missing_item(exc):
                    raise RecordNotFound(f"No {record.kind} record {record.id!r}.") from exc
                raise
        return _stored(record, body, metadata)

    async def delete(self, kind: str, record_id: str, *, etag: str | None = None) -> None:
        condition = MatchConditions.Unconditionally if etag is None else MatchConditions.IfNotModified
        with storage_errors(f"delete {kind} record"):
            try:
                # The SDK treats 404 as success, which is the idempotence the port promises.
                await self._table.delete_entity(kind, record_id, etag=etag, match_condition=condition)
            except HttpResponseError as exc:
                if status_of(exc) == 412:
                    raise ConcurrencyConflict() from exc
                raise

    async def _query(self, query: str, parameters: dict[str, Any], wanted: int) -> builtins.list[Record]:
        found: list[Record] = []
        if wanted <= 0:
            return found
        with storage_errors("list records"):
            pages = self._table.query_entities(query, parameters=parameters, results_per_page=min(wanted, 1000))
            async for entity in pages:
                found.append(_record(entity))
                if len(found) >= wanted:
                    break
        return found

    async def list(
        self, kind: str, *, where: Mapping[str, str] | None = None, limit: int = 50, cursor: str | None = None,
    ) -> RecordPage:
        check_kind(kind)
        limit = max(int(limit), 0)
        query = "PartitionKey eq @kind"
        parameters: dict[str, Any] = {"kind": kind}
        if cursor is not None:
            query += " and RowKey gt @cursor"
            parameters["cursor"] = cursor
        for index, (name, value) in enumerate(sorted((where or {}).items())):
            check_record(Record(kind, "x", {}, {name: value}))
            query += f" and {_FIELD_PREFIX}{name} eq @v{index}"
            parameters[f"v{index}"] = value
        found = await self._query(query, parameters, limit + 1)
        page = found[:limit]
        return RecordPage(page, page[-1].id if len(found) > limit and page else None)

    async def expired(self, kind: str, *, before: datetime, limit: int = 100) -> builtins.list[Record]:
        check_kind(kind)
        return await self._query(
            "PartitionKey eq @kind and Expires lt @before", {"kind": kind, "before": before}, int(limit)
        )

    async def check(self) -> None:
        with storage_errors("read records"):
            async for _entity in self._table.query_entities(
                "PartitionKey eq @kind", parameters={"kind": "health"}, results_per_page=1
            ):
                break
