"""The table schema: how a :class:`Job` becomes entities and back.

Every entity lives in one partition, ``PartitionKey = "praison"`` (seed 001 §4.6), so that all entities of one
job can change together in a single entity group transaction (one request, atomic). Three kinds, told apart by
their RowKey and a ``Kind`` property:

``job``   RowKey = job id. The seed's columns (Status, DownloadURL, CreatedUTC, UpdatedUTC, StartedUTC,
          RetryCount, JobHash, ErrorMsg ≤ 10 KiB) plus Service, Attempts, Progress, ProgressMsg, FinishedUTC,
          BlobName, ContentType, Filename, Size, MessageId, Worker and PopReceipt (while processing: who runs it and
          its message's newest receipt, for crash recovery), Tenant (absent for untenanted jobs), History (JSON
          list of earlier outcomes of a requeued job; absent when there are none), Outputs (JSON list of the
          output files: name, type, size, SHA-256, CRC-32; the blob name is ``<service>/<job id>/<name>``,
          rebuilt on read; at most 64 of them with ASCII names ≤ 120 and types ≤ 100 characters, so well under
          the 32 K characters a property holds; absent until the job is done) and the payload:
          ``Payload`` (canonical JSON) when it is under 32 KiB, else ``PayloadBlob`` naming
          ``payloads/<job id>.json`` in the output container (a table property holds at most 64 KiB, an entity
          1 MiB; payloads may be 1 MB).
``list``  RowKey = ``list:<inverted created time>:<inverted job id>``, properties JobId, Service, Status,
          CreatedUTC and Tenant (when the job has one): a small index entry whose RowKey sorts newest first, so
          listing is one range query with Service/Status/Tenant filters evaluated by the service.
``hash``  RowKey = ``hash:<payload hash>``, property JobId: the idempotency claim, found by key, never by scan.

A job entity and its list entry are always written in the same transaction, so they never disagree.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.data.tables import EdmType, EntityProperty

from praisonai_svc.hashing import canonical_json
from praisonai_svc.models.job import Job, JobOutcome, JobResult, JobStatus, StoredOutput

PARTITION = "praison"
KIND_JOB = "job"
KIND_INDEX = "list"
KIND_CLAIM = "hash"
CLAIM_PREFIX = "hash:"
INDEX_PREFIX = "list:"
INDEX_END = "list;"  # ";" follows ":", so [INDEX_PREFIX, INDEX_END) is exactly the index range
INLINE_PAYLOAD_LIMIT = 32 * 1024
TEXT_LIMIT = 10 * 1024  # ErrorMsg per the seed; the same cap keeps ProgressMsg inside one property
PAYLOAD_CONTENT_TYPE = "application/json"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_TIME_INVERSION = 10**17  # > microseconds until the year 5000; keeps inverted values positive, fixed width
_TIME_WIDTH = 18
_FORBIDDEN_KEY_CHARS = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")
_MAX_KEY_BYTES = 512  # RowKey max is 1 KiB; the index key hex-encodes the id, doubling it


def usable_key_part(text: str) -> bool:
    """Whether ``text`` may appear in a RowKey (no ``/ \\ # ?`` or control characters, not too long)."""
    return bool(text) and len(text.encode()) <= _MAX_KEY_BYTES and not _FORBIDDEN_KEY_CHARS.search(text)


def usable_job_id(job_id: str) -> bool:
    """Whether ``job_id`` can be a RowKey without colliding with index or claim keys."""
    return usable_key_part(job_id) and not job_id.startswith((CLAIM_PREFIX, INDEX_PREFIX))


def claim_key(payload_hash: str) -> str:
    return CLAIM_PREFIX + payload_hash


def payload_blob_name(job_id: str) -> str:
    return f"payloads/{job_id}.json"


def _micros(moment: datetime) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MICROSECOND


def index_key(created_utc: datetime, job_id: str) -> str:
    """RowKey that sorts ascending in (created_utc, job_id) *descending* order (ties broken like the others).

    The id is hex-encoded byte by byte as ``255 - b`` and closed with ``g`` (above every hex digit), so a
    longer id sorts before its own prefix, as it does in descending order.
    """
    inverted_time = _TIME_INVERSION - _micros(created_utc)
    inverted_id = "".join(f"{255 - byte:02x}" for byte in job_id.encode()) + "g"
    return f"{INDEX_PREFIX}{inverted_time:0{_TIME_WIDTH}d}:{inverted_id}"


def truncate_utf8(text: str | None, limit: int = TEXT_LIMIT) -> str | None:
    if text is None:
        return None
    raw = text.encode("utf-8")
    return text if len(raw) <= limit else raw[:limit].decode("utf-8", "ignore")


def payload_text(job: Job) -> str:
    return canonical_json(job.payload)


def payload_property(job: Job, text: str | None = None) -> dict[str, str]:
    """``{"Payload": json}`` when it fits inline, else ``{"PayloadBlob": name}`` (the blob holds the JSON)."""
    text = payload_text(job) if text is None else text
    if len(text.encode("utf-8")) < INLINE_PAYLOAD_LIMIT:
        return {"Payload": text}
    return {"PayloadBlob": payload_blob_name(job.job_id)}


def job_entity(job: Job, payload: dict[str, str]) -> dict[str, Any]:
    """The ``job`` entity (``payload`` from :func:`payload_property`). None-valued fields are left out."""
    result = job.result
    properties: dict[str, Any] = {
        "PartitionKey": PARTITION,
        "RowKey": job.job_id,
        "Kind": KIND_JOB,
        "Service": job.service,
        "Status": job.status.value,
        "DownloadURL": "",  # links are minted fresh per download, never stored
        "CreatedUTC": job.created_utc,
        "UpdatedUTC": job.updated_utc,
        "StartedUTC": job.started_utc,
        "FinishedUTC": job.finished_utc,
        "RetryCount": job.retry_count,
        "Attempts": job.attempts,
        "JobHash": job.payload_hash,
        "ErrorMsg": truncate_utf8(job.error_msg),
        "Progress": None if job.progress is None else float(job.progress),
        "ProgressMsg": truncate_utf8(job.progress_msg),
        "MessageId": job.message_id,
        "Worker": job.worker,
        "PopReceipt": job.pop_receipt,
        "Tenant": job.tenant,
        "History": history_text(job),
        "CallbackURL": job.callback_url,
        "WebhookProgress": True if job.webhook_progress else None,
        "CancelRequestedUTC": job.cancel_requested_utc,
        "Outputs": outputs_text(job),
        **payload,
    }
    if result is not None:
        properties |= {
            "BlobName": result.blob_name,
            "ContentType": result.content_type,
            "Filename": result.filename,
            "Size": EntityProperty(result.size, EdmType.INT64),
        }
    return {name: value for name, value in properties.items() if value is not None}


def history_text(job: Job) -> str | None:
    """``History``: the job's earlier outcomes as JSON (None, i.e. no property, when it has none)."""
    if not job.history:
        return None
    return json.dumps([outcome.model_dump(mode="json") for outcome in job.history], separators=(",", ":"))


def outputs_text(job: Job) -> str | None:
    """``Outputs``: the job's output files as JSON (None, i.e. no property, before it has any)."""
    if not job.outputs:
        return None
    return json.dumps([output.model_dump(mode="json", exclude={"blob_name"}) for output in job.outputs],
                      separators=(",", ":"), ensure_ascii=False)


def _outputs(text: str | None, prefix: str) -> list[StoredOutput]:
    if not text:
        return []
    return [StoredOutput.model_validate({**item, "blob_name": f"{prefix}/{item['filename']}"})
            for item in json.loads(text)]


def _history(text: str | None) -> list[JobOutcome]:
    return [JobOutcome.model_validate(item) for item in json.loads(text)] if text else []


def index_entity(job: Job) -> dict[str, Any]:
    """The ``list`` entry of a job."""
    entry = {
        "PartitionKey": PARTITION, "RowKey": index_key(job.created_utc, job.job_id), "Kind": KIND_INDEX,
        "JobId": job.job_id, "Service": job.service, "Status": job.status.value, "CreatedUTC": job.created_utc,
    }
    return entry if job.tenant is None else entry | {"Tenant": job.tenant}


def index_position(entry: Any) -> tuple[datetime, str]:
    """(created_utc, job_id) of a ``list`` entry: what the shared cursor records."""
    return plain_datetime(entry["CreatedUTC"]), str(entry["JobId"])


def claim_entity(payload_hash: str, job_id: str) -> dict[str, Any]:
    return {"PartitionKey": PARTITION, "RowKey": claim_key(payload_hash), "Kind": KIND_CLAIM, "JobId": job_id}


def keys(entity: dict[str, Any] | Any) -> dict[str, str]:
    return {"PartitionKey": entity["PartitionKey"], "RowKey": entity["RowKey"]}


def plain_datetime(value: Any) -> datetime:
    # The SDK returns a datetime subclass carrying the service's text; hand out plain aware datetimes.
    return datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond, tzinfo=UTC
    )


def _optional_datetime(value: Any) -> datetime | None:
    return None if value is None else plain_datetime(value)


def _int(value: Any, default: int = 0) -> int:
    if value is None:
        return default
    return int(value.value if isinstance(value, EntityProperty) else value)


def _result(entity: Any) -> JobResult | None:
    if not entity.get("BlobName"):
        return None
    return JobResult(
        blob_name=entity["BlobName"], content_type=entity.get("ContentType", ""),
        filename=entity.get("Filename", ""), size=_int(entity.get("Size")),
    )


def job_from_entity(entity: Any, payload: dict[str, Any] | None = None) -> Job:
    """A job from a ``job`` entity; ``payload`` is required when the entity has ``PayloadBlob``."""
    if payload is None:
        payload = json.loads(entity["Payload"])
    progress = entity.get("Progress")
    return Job(
        job_id=entity["RowKey"],
        service=entity["Service"],
        status=JobStatus(entity["Status"]),
        payload=payload,
        payload_hash=entity["JobHash"],
        created_utc=plain_datetime(entity["CreatedUTC"]),
        updated_utc=plain_datetime(entity["UpdatedUTC"]),
        started_utc=_optional_datetime(entity.get("StartedUTC")),
        finished_utc=_optional_datetime(entity.get("FinishedUTC")),
        attempts=_int(entity.get("Attempts")),
        error_msg=entity.get("ErrorMsg"),
        progress=None if progress is None else float(progress),
        progress_msg=entity.get("ProgressMsg"),
        result=_result(entity),
        message_id=entity.get("MessageId"),
        worker=entity.get("Worker"),
        pop_receipt=entity.get("PopReceipt"),
        tenant=entity.get("Tenant"),
        history=_history(entity.get("History")),
        callback_url=entity.get("CallbackURL"),
        webhook_progress=bool(entity.get("WebhookProgress")),
        cancel_requested_utc=_optional_datetime(entity.get("CancelRequestedUTC")),
        outputs=_outputs(entity.get("Outputs"), f"{entity['Service']}/{entity['RowKey']}"),
    )
