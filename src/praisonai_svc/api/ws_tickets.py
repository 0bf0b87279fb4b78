"""Single-use WebSocket tickets: browsers cannot set headers on a WebSocket, so an authenticated call mints one.

A ticket is 256 random bits, valid :data:`TICKET_SECONDS` for one job, stored hashed as a ``ws_ticket`` record
(so every replica honours it). Using it creates a ``<hash>.used`` record: that create succeeds exactly once on
every backend, so a replayed ticket (a leaked URL, a proxy log) is refused.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from praisonai_svc.errors import PraisonSvcError, RecordExists
from praisonai_svc.models.job import utcnow
from praisonai_svc.records import Record, RecordStore
from praisonai_svc.security.guard import Principal

KIND = "ws_ticket"
TICKET_SECONDS = 60


class TicketInvalid(PraisonSvcError):
    """The WebSocket ticket is unknown, expired, already used or for another job; mint a new one."""


def _key(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


async def mint_ticket(records: RecordStore, job_id: str, principal: Principal) -> tuple[str, int]:
    ticket = secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(seconds=TICKET_SECONDS)
    body = {"job_id": job_id, "tenant": principal.tenant, "method": principal.method, "subject": principal.subject,
            "expires_utc": expires.isoformat()}
    await records.create(Record(KIND, _key(ticket), body, expires_utc=expires))
    return ticket, TICKET_SECONDS


async def consume_ticket(records: RecordStore, ticket: str, job_id: str) -> Principal:
    """The principal the ticket was minted for; TicketInvalid if unknown, expired, used or for another job."""
    if not ticket or len(ticket) > 100:
        raise TicketInvalid()
    key = _key(ticket)
    record = await records.find(KIND, key)
    if record is None or record.body.get("job_id") != job_id:
        raise TicketInvalid()
    if datetime.fromisoformat(str(record.body["expires_utc"])) < utcnow():
        raise TicketInvalid()
    try:
        await records.create(Record(KIND, f"{key}.used", {}, expires_utc=record.expires_utc))
    except RecordExists:
        raise TicketInvalid() from None
    return Principal(record.body.get("method", "none"), record.body.get("tenant"), record.body.get("subject"))
