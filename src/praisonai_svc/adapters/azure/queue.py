"""Azure Queue Storage as the job queue: leases are visibility timeouts, the lease token is the pop receipt.

Message body: the job id as UTF-8 text, base64-encoded (``TextBase64EncodePolicy`` on send, the matching
decode on receive) — the encoding Azure Functions' queue trigger and the portal expect. The decode policy falls
back to the raw text for a message some other tool put on the queue without base64: the SDK's own policy fails
the whole receive on such a message (and Azurite/SDK versions then raise an AttributeError), which would wedge
the queue; this way the worker sees an unknown job id and dead-letters it.

Azure wants whole seconds: visibility timeouts are rounded up (minimum 1 s for a lease, 0 allowed for a
release). A queue (and its poison queue) that does not exist yet is created on first use, so extra services'
queues need no setup; the configured queue is created when the backend opens.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from azure.core.exceptions import DecodeError, HttpResponseError, ResourceExistsError
from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from praisonai_svc.adapters.azure.errors import code_of, status_of, storage_errors
from praisonai_svc.errors import LeaseLost
from praisonai_svc.models.job import utcnow
from praisonai_svc.ports import POISON_PEEK_LIMIT, JobQueue, PoisonMessage, QueueMessage

T = TypeVar("T")
log = logging.getLogger(__name__)

MAX_MESSAGES_PER_RECEIVE = 32  # the service's limit for one Get Messages call
# Seconds a dead-lettered message stays hidden between proving our lease and deleting it.
_DEAD_LETTER_HOLD_SECONDS = 30
_LEASE_LOST_CODES = frozenset({"MessageNotFound", "PopReceiptMismatch", "QueueNotFound"})
# A requeue looks at most this many poison messages (hiding each for _POISON_SCAN_HOLD_SECONDS meanwhile).
_POISON_SCAN_LIMIT = 5000
_POISON_SCAN_HOLD_SECONDS = 60
_POISON_REASON_LIMIT = 8000  # characters; the JSON body must stay under the 64 KiB message limit
_NEVER_EXPIRES = -1  # poison messages wait for an operator; the default time-to-live is 7 days


def poison_body(message: QueueMessage, reason: str) -> str:
    """The poison copy's body: the job id plus why and when, as JSON (the main queue's body is the bare id)."""
    return json.dumps({"job_id": message.job_id, "reason": reason[:_POISON_REASON_LIMIT],
                       "dead_utc": utcnow().isoformat(), "dequeue_count": message.dequeue_count})


def parse_poison(content: Any, inserted_on: datetime | None, dequeue_count: int) -> PoisonMessage:
    """Read a poison body; a bare job id (older versions, other tools) is accepted with an empty reason."""
    text = str(content or "")
    try:
        data = json.loads(text) if text.startswith("{") else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or "job_id" not in data:
        return PoisonMessage(text, "", _aware(inserted_on), dequeue_count)
    try:
        dead = _aware(datetime.fromisoformat(str(data.get("dead_utc"))))
    except ValueError:
        dead = _aware(inserted_on)
    return PoisonMessage(str(data["job_id"]), str(data.get("reason", "")), dead,
                         int(data.get("dequeue_count", dequeue_count)))


class _TolerantTextBase64DecodePolicy(TextBase64DecodePolicy):
    def decode(self, content: Any, response: Any) -> str:
        try:
            return str(super().decode(content, response))
        except (DecodeError, ValueError, AttributeError):
            return str(content)


def whole_seconds(seconds: float, *, minimum: int) -> int:
    return max(minimum, math.ceil(seconds))


def _lease_lost(exc: HttpResponseError) -> bool:
    return status_of(exc) in (400, 404) and code_of(exc) in _LEASE_LOST_CODES


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        return utcnow()
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class AzureJobQueue(JobQueue):
    def __init__(self, service: QueueServiceClient, name: str, poison_name: str) -> None:
        self.name = name
        self.poison_name = poison_name
        self._queue = self._client(service, name)
        self._poison = self._client(service, poison_name)

    @staticmethod
    def _client(service: QueueServiceClient, name: str) -> QueueClient:
        return service.get_queue_client(
            name, message_encode_policy=TextBase64EncodePolicy(),
            message_decode_policy=_TolerantTextBase64DecodePolicy(),
        )

    async def create_queues(self) -> None:
        """Create the queue and its poison queue; "already exists" is fine."""
        for client in (self._queue, self._poison):
            with storage_errors(f"create queue {client.queue_name}"), contextlib.suppress(ResourceExistsError):
                await client.create_queue()

    async def _creating_if_missing(self, action: str, call: Callable[[], Awaitable[T]]) -> T:
        with storage_errors(action):
            try:
                return await call()
            except HttpResponseError as exc:
                if code_of(exc) != "QueueNotFound":
                    raise
        await self.create_queues()
        with storage_errors(action):
            return await call()

    async def send(self, job_id: str, *, delay: float = 0.0) -> str:
        hidden = whole_seconds(delay, minimum=0) or None

        async def call() -> str:
            message = await self._queue.send_message(job_id, visibility_timeout=hidden)
            return str(message.id)

        return await self._creating_if_missing(f"send to queue {self.name}", call)

    async def receive(self, max_messages: int, visibility_timeout: float) -> list[QueueMessage]:
        count = min(max_messages, MAX_MESSAGES_PER_RECEIVE)
        if count < 1:
            return []
        lease = whole_seconds(visibility_timeout, minimum=1)

        async def call() -> list[Any]:
            # Only the first page: iterating further would issue another Get Messages call per receive.
            pages = self._queue.receive_messages(
                messages_per_page=count, max_messages=count, visibility_timeout=lease
            ).by_page()
            try:
                page = await pages.__anext__()
            except StopAsyncIteration:  # the pager's way of saying "no message visible"
                return []
            return [message async for message in page]

        received = await self._creating_if_missing(f"receive from queue {self.name}", call)
        return [
            QueueMessage(
                message_id=str(m.id), job_id=str(m.content or ""), pop_receipt=str(m.pop_receipt),
                dequeue_count=int(m.dequeue_count or 0), inserted_utc=_aware(m.inserted_on),
            )
            for m in received
        ]

    async def _update(self, message: QueueMessage, seconds: int, action: str) -> QueueMessage:
        with storage_errors(f"{action} message {message.message_id} on queue {self.name}"):
            try:
                updated = await self._queue.update_message(
                    message.message_id, pop_receipt=message.pop_receipt, visibility_timeout=seconds
                )
            except HttpResponseError as exc:
                if _lease_lost(exc):
                    raise LeaseLost() from exc
                raise
        return replace(message, pop_receipt=str(updated.pop_receipt))

    async def renew(self, message: QueueMessage, visibility_timeout: float) -> QueueMessage:
        return await self._update(message, whole_seconds(visibility_timeout, minimum=1), "renew")

    async def ack(self, message: QueueMessage) -> None:
        with storage_errors(f"delete message {message.message_id} from queue {self.name}"):
            try:
                await self._queue.delete_message(message.message_id, message.pop_receipt)
            except HttpResponseError as exc:
                if _lease_lost(exc):
                    raise LeaseLost() from exc
                raise

    async def release(self, message: QueueMessage, *, delay: float = 0.0) -> None:
        await self._update(message, whole_seconds(delay, minimum=0), "release")

    async def dead_letter(self, message: QueueMessage, reason: str) -> None:
        # Prove the lease first (and take a fresh receipt), so a stale caller raises LeaseLost before copying
        # anything: otherwise the poison queue would get a copy of a message another worker still owns.
        held = await self._update(message, _DEAD_LETTER_HOLD_SECONDS, "hold")

        async def copy() -> None:
            await self._poison.send_message(poison_body(message, reason), time_to_live=_NEVER_EXPIRES)

        await self._creating_if_missing(f"send to poison queue {self.poison_name}", copy)
        log.warning(
            "job moved to the poison queue",
            extra={"job_id": message.job_id, "attempt": message.dequeue_count, "queue": self.name,
                   "reason": reason[:1000]},
        )
        await self.ack(held)

    async def _approximate_count(self, client: QueueClient) -> int:
        async def call() -> int:
            properties = await client.get_queue_properties()
            return int(properties.approximate_message_count or 0)

        return await self._creating_if_missing(f"read queue {client.queue_name}", call)

    async def length(self) -> int:
        return await self._approximate_count(self._queue)

    async def poison_length(self) -> int:
        return await self._approximate_count(self._poison)

    async def poison_messages(self, limit: int = 32) -> list[PoisonMessage]:
        count = max(0, min(limit, POISON_PEEK_LIMIT))
        if count == 0:
            return []

        async def call() -> list[Any]:
            return list(await self._poison.peek_messages(max_messages=count))

        peeked = await self._creating_if_missing(f"peek poison queue {self.poison_name}", call)
        return [parse_poison(m.content, m.inserted_on, int(m.dequeue_count or 0)) for m in peeked]

    async def _scan_poison(self, job_id: str) -> tuple[list[Any], list[Any]]:
        """Lease poison messages page by page: (those naming ``job_id``, the others, still hidden)."""
        matching: list[Any] = []
        others: list[Any] = []
        seen: set[str] = set()
        while len(seen) < _POISON_SCAN_LIMIT:
            async def call() -> list[Any]:
                pages = self._poison.receive_messages(
                    messages_per_page=MAX_MESSAGES_PER_RECEIVE, max_messages=MAX_MESSAGES_PER_RECEIVE,
                    visibility_timeout=_POISON_SCAN_HOLD_SECONDS,
                ).by_page()
                try:
                    page = await pages.__anext__()
                except StopAsyncIteration:
                    return []
                return [m async for m in page]

            batch = [m for m in await self._creating_if_missing(f"scan poison queue {self.poison_name}", call)
                     if str(m.id) not in seen]
            if not batch:
                break
            for m in batch:
                seen.add(str(m.id))
                parsed = parse_poison(m.content, m.inserted_on, int(m.dequeue_count or 0))
                (matching if parsed.job_id == job_id else others).append(m)
        return matching, others

    async def requeue_poison(self, job_id: str) -> bool:
        matching, others = await self._scan_poison(job_id)
        try:
            if not matching:
                return False
            await self.send(job_id)
            with storage_errors(f"delete requeued message from {self.poison_name}"):
                for m in matching:
                    with contextlib.suppress(HttpResponseError):  # already gone: fine
                        await self._poison.delete_message(m.id, m.pop_receipt)
            return True
        finally:
            for m in others:  # make the messages we only looked at visible again at once
                with contextlib.suppress(HttpResponseError):
                    await self._poison.update_message(m.id, pop_receipt=m.pop_receipt, visibility_timeout=0)

    async def purge_poison(self) -> int:
        count = await self.poison_length()

        async def call() -> None:
            await self._poison.clear_messages()

        await self._creating_if_missing(f"clear poison queue {self.poison_name}", call)
        return count

    async def check(self) -> None:
        await self.length()
