"""Job records in Azure Table Storage, with hash claims and ETag-conditional updates.

Schema (see :mod:`.entities`): one partition ``praison``; per job a ``job`` entity (RowKey = job id), a small
``list`` entry keyed by inverted creation time, and a ``hash`` claim entity for its payload hash. Because they
share the partition, each write below is **one entity group transaction**: atomic, and one storage request —
shared with the writes of concurrent callers (:mod:`.group_commit`). Concurrent reads of job entities share one
range query (:mod:`.batched_reads`).

* ``create``: insert claim + job + list entry together. A 409 on the claim means the hash is held: read the
  claim and its holder; a live holder → :class:`DuplicateJob`; an ``error`` (or vanished) holder is taken over
  by an ETag-conditional REPLACE of the claim in the same kind of transaction, looping on conflicts. 50
  concurrent creates of one hash → exactly one transaction succeeds, the others read the winner. No scan.
* ``update``: REPLACE of the job entity, conditional on the caller's ETag (412 → :class:`ConcurrencyConflict`,
  404 → :class:`JobNotFound`), and of its list entry (whose Status the list filter reads), in one transaction.
  Payload, hash, tenant and ``created_utc`` (part of the list key) are immutable: REPLACE rewrites them from what
  this store last read or wrote for the job (a small per-process memo; on a miss one extra read), never from
  the caller's copy, so a changed ``created_utc`` cannot orphan a list entry.
* ``list`` — why a separate list entry: the seed fixes RowKey = job id, which sorts by id, not by time, and a
  table has no other index. Chosen: one range query over the list entries (RowKey between ``list:`` and
  ``list;``, Service/Status/Tenant filtered by the service, newest first, the SDK following continuation tokens when
  filters skip rows), then the page's jobs, read concurrently (so usually by one range query, else by point
  reads: a page of N costs 2 to 1 + N requests); a list entry is tiny (job writes do not carry the payload
  twice) and every job handed out carries the job entity's own ETag, exactly as from ``get``. The cursor is the
  shared (created, job id) cursor, turned back into a RowKey bound. A job that changed status or vanished
  between query and read is left out.

Storage requests of one short job alone, end to end (small payload): create 1 (claim + job + list entry in one
transaction) + enqueue 1 + receive 1 + get 1 + update→processing 1 + put result blob 1 + update→done 1 +
delete message 1 = **8**; under load the table requests and receives are shared and a job costs about 4. A
payload of 32 KiB or more adds one blob upload at create and one blob read per ``get``.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from praisonai_svc.adapters.azure.batched_reads import BatchedReads
from praisonai_svc.adapters.azure.blobs import AzureBlobStore
from praisonai_svc.adapters.azure.entities import (
    CLAIM_PREFIX,
    INDEX_END,
    INDEX_PREFIX,
    KIND_JOB,
    PARTITION,
    PAYLOAD_CONTENT_TYPE,
    claim_entity,
    claim_key,
    index_entity,
    index_key,
    index_position,
    job_entity,
    job_from_entity,
    keys,
    payload_property,
    payload_text,
    plain_datetime,
    usable_job_id,
    usable_key_part,
)
from praisonai_svc.adapters.azure.errors import (
    MISSING_RESOURCE_CODES,
    TransactionRejected,
    code_of,
    is_missing_item,
    status_of,
    storage_errors,
)
from praisonai_svc.adapters.azure.group_commit import GroupCommit, Operation
from praisonai_svc.adapters.cursor import decode_cursor, encode_cursor
from praisonai_svc.errors import BlobNotFound, ConcurrencyConflict, JobNotFound, PayloadError, StorageError
from praisonai_svc.models.job import Job, JobStatus
from praisonai_svc.ports import DuplicateJob, JobListing, JobStore

_CLAIM_ROUNDS = 8  # each extra round means another creator changed the claim under us; give up eventually
_DELETE_ROUNDS = 4
_MAX_PAGE = 1000  # the service returns at most 1000 entities per response
_MEMO_SIZE = 512  # immutable parts of recently seen jobs; inline payloads are < 32 KiB, so at most ~16 MB


@dataclass(frozen=True)
class _Immutable:
    """What ``update`` writes back unchanged: the stored payload property, payload hash, creation time, tenant."""

    payload: dict[str, str]
    payload_hash: str
    created_utc: datetime
    tenant: str | None = None


def _if_match(etag: str) -> dict[str, Any]:
    return {"mode": UpdateMode.REPLACE, "etag": etag, "match_condition": MatchConditions.IfNotModified}


def _replace() -> dict[str, Any]:
    return {"mode": UpdateMode.REPLACE}


def _etag(entity: Any) -> str:
    return str(entity.metadata["etag"])


class AzureJobStore(JobStore):
    def __init__(self, table: TableClient, blobs: AzureBlobStore) -> None:
        self._table = table
        self._blobs = blobs  # payloads of 32 KiB and more live in the output container
        self._memo: OrderedDict[str, _Immutable] = OrderedDict()
        # Creates and updates of concurrent callers (API requests, a worker's jobs) share transactions, and
        # their reads of job entities share range queries.
        self._writes = GroupCommit(self._send_transaction)
        self._reads = BatchedReads(self._query_range, self._read_job_entity)

    def _remember(self, job_id: str, immutable: _Immutable) -> None:
        self._memo[job_id] = immutable
        self._memo.move_to_end(job_id)
        while len(self._memo) > _MEMO_SIZE:
            self._memo.popitem(last=False)

    def _remember_entity(self, entity: Any) -> _Immutable:
        stored = {name: entity[name] for name in ("Payload", "PayloadBlob") if name in entity}
        immutable = _Immutable(
            stored, str(entity["JobHash"]), plain_datetime(entity["CreatedUTC"]), entity.get("Tenant")
        )
        self._remember(str(entity["RowKey"]), immutable)
        return immutable

    async def _immutable_of(self, job_id: str) -> _Immutable:
        known = self._memo.get(job_id)
        if known is not None:
            return known
        entity = await self._read_job_entity(job_id)
        if entity is None or entity.get("Kind") != KIND_JOB:
            raise JobNotFound()
        return self._remember_entity(entity)

    # --- primitives -----------------------------------------------------------------------------------------

    async def _read(self, row_key: str, action: str) -> Any:
        """The entity, or None when it does not exist."""
        with storage_errors(action):
            try:
                return await self._table.get_entity(PARTITION, row_key)
            except HttpResponseError as exc:
                if is_missing_item(exc):
                    return None
                raise

    async def _read_job_entity(self, job_id: str) -> Any:
        return await self._read(job_id, f"read job {job_id}")

    async def _query_range(self, lowest: str, highest: str, limit: int) -> tuple[list[Any], bool]:
        """One page of job entities with RowKey in [lowest, highest]; True if it reached the end of the range."""
        with storage_errors("read jobs"):
            pages = self._table.query_entities(
                "PartitionKey eq @pk and RowKey ge @lowest and RowKey le @highest and Kind eq @kind",
                parameters={"pk": PARTITION, "lowest": lowest, "highest": highest, "kind": KIND_JOB},
                results_per_page=limit,
            ).by_page()
            try:
                entities = [entity async for entity in await pages.__anext__()]
            except StopAsyncIteration:
                return [], True
            return entities, not getattr(pages, "continuation_token", None)

    async def _send_transaction(self, operations: list[Operation]) -> list[Mapping[str, Any]]:
        count = len(operations)
        return await self._transact(operations, f"write {count} job entit{'y' if count == 1 else 'ies'}")

    async def _transact(self, operations: list[Operation], action: str) -> list[Mapping[str, Any]]:
        with storage_errors(action):
            try:
                return list(await self._table.submit_transaction(operations))
            except TableTransactionError as exc:
                status = status_of(exc)
                if status in (404, 409, 412) and code_of(exc) not in MISSING_RESOURCE_CODES:
                    raise TransactionRejected(exc.index, status, code_of(exc)) from exc
                raise

    async def _to_job(self, entity: Any) -> Job:
        payload = None
        blob_name = entity.get("PayloadBlob")
        if blob_name:
            try:
                payload = json.loads(await self._blobs.open(blob_name))
            except BlobNotFound as exc:
                raise StorageError(f"The payload of job {entity['RowKey']} is missing ({blob_name}).") from exc
        job = job_from_entity(entity, payload)
        job.etag = _etag(entity)
        self._remember_entity(entity)
        return job

    async def _job_or_none(self, job_id: str) -> Job | None:
        if not usable_job_id(job_id):
            return None
        entity = await self._reads.read(job_id)
        if entity is None or entity.get("Kind") != KIND_JOB:
            return None
        return await self._to_job(entity)

    # --- create ---------------------------------------------------------------------------------------------

    async def create(self, job: Job) -> Job:
        if not usable_job_id(job.job_id):
            raise PayloadError(f"Job id {job.job_id!r} cannot be stored in Azure Table Storage.")
        text = payload_text(job)
        payload = payload_property(job, text)
        blob_name = payload.get("PayloadBlob")
        if blob_name:
            await self._blobs.put(
                blob_name, text.encode("utf-8"), content_type=PAYLOAD_CONTENT_TYPE, filename=f"{job.job_id}.json"
            )
        try:
            return await self._insert_claiming(job, payload)
        except DuplicateJob:
            if blob_name:  # certainly not stored: the job entity that would point at it was never written
                await self._blobs.delete(blob_name)
            raise

    async def _insert_claiming(self, job: Job, payload: dict[str, str]) -> Job:
        claim: Operation = ("create", claim_entity(job.payload_hash, job.job_id))
        inserts: list[Operation] = [("create", job_entity(job, payload)), ("create", index_entity(job))]
        for _ in range(_CLAIM_ROUNDS):
            try:
                results = await self._writes.submit([claim, *inserts])
            except TransactionRejected as exc:
                if exc.index != 0:
                    raise ConcurrencyConflict(f"A job with id {job.job_id} already exists.") from exc
                claim = await self._takeover(job)
                continue
            self._remember(job.job_id, _Immutable(payload, job.payload_hash, job.created_utc, job.tenant))
            return job.model_copy(update={"etag": str(results[1]["etag"])})
        raise ConcurrencyConflict(f"The claim on payload hash {job.payload_hash} kept changing; try again.")

    async def _takeover(self, job: Job) -> Operation:
        """The claim operation for the next round; DuplicateJob if a live job holds the hash.

        A live holder may be this very job when the SDK re-sent a transaction whose answer was lost; like the
        other adapters we still raise DuplicateJob (``existing.job_id == job.job_id`` tells the caller).
        """
        current = await self._read(claim_key(job.payload_hash), "read hash claim")
        if current is None:  # released since our attempt
            return ("create", claim_entity(job.payload_hash, job.job_id))
        holder = await self._job_or_none(str(current.get("JobId", "")))
        if holder is not None and not holder.status.releases_claim:
            raise DuplicateJob(holder)
        return ("update", claim_entity(job.payload_hash, job.job_id), _if_match(_etag(current)))

    # --- read -----------------------------------------------------------------------------------------------

    async def get(self, job_id: str) -> Job:
        job = await self._job_or_none(job_id)
        if job is None:
            raise JobNotFound()
        return job

    async def find_by_hash(self, payload_hash: str) -> Job | None:
        if not usable_key_part(payload_hash):
            return None
        claim = await self._read(claim_key(payload_hash), "read hash claim")
        if claim is None:
            return None
        return await self._job_or_none(str(claim.get("JobId", "")))

    async def list(
        self, *, service: str | None = None, status: JobStatus | None = None, limit: int = 50,
        cursor: str | None = None, tenant: str | None = None,
    ) -> JobListing:
        if limit < 1:
            return JobListing(jobs=[], next_cursor=None)
        clauses = ["PartitionKey eq @pk", "RowKey gt @after", "RowKey lt @end"]
        params: dict[str, Any] = {"pk": PARTITION, "after": _cursor_key(cursor), "end": INDEX_END}
        if service is not None:
            clauses.append("Service eq @service")
            params["service"] = service
        if status is not None:
            clauses.append("Status eq @status")
            params["status"] = JobStatus(status).value
        if tenant is not None:
            clauses.append("Tenant eq @tenant")  # untenanted entries have no Tenant property: never equal
            params["tenant"] = tenant
        entries: list[Any] = []
        with storage_errors("list jobs"):
            async for entry in self._table.query_entities(
                " and ".join(clauses), parameters=params, results_per_page=min(limit + 1, _MAX_PAGE),
                select=["JobId", "CreatedUTC"],
            ):
                entries.append(entry)
                if len(entries) > limit:
                    break
        page = entries[:limit]
        found = await asyncio.gather(*(self._job_or_none(str(entry["JobId"])) for entry in page))
        jobs = [
            job for job in found
            if job is not None and service in (None, job.service) and status in (None, job.status)
            and tenant in (None, job.tenant)
        ]
        next_cursor = None
        if len(entries) > limit:
            created, job_id = index_position(page[-1])
            next_cursor = encode_cursor(created.isoformat(), job_id)
        return JobListing(jobs=jobs, next_cursor=next_cursor)

    async def count_by_status(self, *, limit: int = 1000) -> dict[JobStatus, int]:
        # Only the small list entries, only their Status: one request per 1,000 jobs, no point reads.
        counts = dict.fromkeys(JobStatus, 0)
        if limit < 1:
            return counts
        seen = 0
        with storage_errors("count jobs"):
            async for entry in self._table.query_entities(
                "PartitionKey eq @pk and RowKey gt @after and RowKey lt @end",
                parameters={"pk": PARTITION, "after": INDEX_PREFIX, "end": INDEX_END},
                results_per_page=min(limit, _MAX_PAGE), select=["Status"],
            ):
                with contextlib.suppress(ValueError):
                    counts[JobStatus(str(entry.get("Status")))] += 1
                seen += 1
                if seen >= limit:
                    break
        return counts

    # --- update / delete ------------------------------------------------------------------------------------

    async def update(self, job: Job) -> Job:
        etag = job.etag
        if etag is None:
            raise ConcurrencyConflict("This job has no ETag; read it first.")
        if not usable_job_id(job.job_id):
            raise JobNotFound()
        immutable = await self._immutable_of(job.job_id)
        job = job.model_copy(update={
            "payload_hash": immutable.payload_hash, "created_utc": immutable.created_utc, "tenant": immutable.tenant,
        })
        operations: list[Operation] = [
            ("update", job_entity(job, immutable.payload), _if_match(etag)),
            ("upsert", index_entity(job), _replace()),
        ]
        try:
            results = await self._writes.submit(operations)
        except TransactionRejected as exc:
            if exc.status == 412:
                raise ConcurrencyConflict() from exc
            if exc.status == 404:
                self._memo.pop(job.job_id, None)
                raise JobNotFound() from exc
            raise
        return job.model_copy(update={"etag": str(results[0]["etag"])})

    async def delete(self, job_id: str) -> None:
        if not usable_job_id(job_id):
            return
        with_copy = True
        for _ in range(_DELETE_ROUNDS):
            entity = await self._read_job_entity(job_id)
            if entity is None or entity.get("Kind") != KIND_JOB:
                return
            claim = await self._read(claim_key(entity["JobHash"]), "read hash claim")
            operations: list[Operation] = [("delete", keys(entity))]
            if with_copy:
                copy_key = index_key(entity["CreatedUTC"], job_id)
                operations.append(("delete", {"PartitionKey": PARTITION, "RowKey": copy_key}))
            if claim is not None and claim.get("JobId") == job_id:  # a claim taken over stays with its new job
                operations.append(("delete", keys(claim), {"etag": _etag(claim),
                                                           "match_condition": MatchConditions.IfNotModified}))
            try:
                await self._transact(operations, f"delete job {job_id}")
            except TransactionRejected as exc:
                with_copy = with_copy and not (exc.index == 1 and exc.status == 404)
                continue  # deleted, changed or taken over meanwhile: look again
            self._memo.pop(job_id, None)
            if entity.get("PayloadBlob"):
                await self._blobs.delete(entity["PayloadBlob"])
            return
        raise ConcurrencyConflict(f"Job {job_id} kept changing while being deleted; try again.")

    async def release_claim(self, payload_hash: str, job_id: str) -> None:
        if not usable_key_part(payload_hash):
            return
        claim = await self._read(claim_key(payload_hash), "read hash claim")
        if claim is None or claim.get("JobId") != job_id:
            return
        with storage_errors("release hash claim"):
            try:
                await self._table.delete_entity(
                    PARTITION, claim_key(payload_hash), etag=_etag(claim), match_condition=MatchConditions.IfNotModified
                )
            except HttpResponseError as exc:
                if status_of(exc) != 412:  # 412: taken over meanwhile, which is what we wanted anyway
                    raise

    async def prunable(self, *, before: datetime, limit: int = 100) -> builtins.list[Job]:
        # List entries sort newest first, so "created before" is the tail range from ``before`` to the end.
        terminal = [status.value for status in JobStatus if status.is_terminal]
        statuses = " or ".join(f"Status eq @s{index}" for index in range(len(terminal)))
        params: dict[str, Any] = {"pk": PARTITION, "after": index_key(before, ""), "end": INDEX_END}
        params.update({f"s{index}": value for index, value in enumerate(terminal)})
        ids: list[str] = []
        with storage_errors("list prunable jobs"):
            async for entry in self._table.query_entities(
                # The spaces inside the parentheses matter: the SDK substitutes @names only between spaces.
                f"PartitionKey eq @pk and RowKey gt @after and RowKey lt @end and ( {statuses} )",
                parameters=params, results_per_page=min(max(limit, 1), _MAX_PAGE), select=["JobId"],
            ):
                ids.append(str(entry["JobId"]))
                if len(ids) >= limit:
                    break
        found = await asyncio.gather(*(self._job_or_none(job_id) for job_id in ids))
        return [job for job in found if job is not None and job.status.is_terminal and job.created_utc < before]

    async def check(self) -> None:
        # A point read of a key that never exists: 404 "ResourceNotFound" proves the table is there.
        await self._read(CLAIM_PREFIX, f"read table {self._table.table_name}")


def _cursor_key(cursor: str | None) -> str:
    """The exclusive lower RowKey bound of the page after ``cursor``."""
    if not cursor:
        return INDEX_PREFIX
    created_iso, job_id = decode_cursor(cursor)
    try:
        return index_key(datetime.fromisoformat(created_iso), job_id)
    except ValueError as exc:
        raise PayloadError("Invalid cursor; pass the next_cursor value of the previous page unchanged.") from exc
