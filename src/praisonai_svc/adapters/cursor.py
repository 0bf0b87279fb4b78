"""Opaque pagination cursors shared by the adapters: base64 of (created_utc, job_id) of the last row."""

from __future__ import annotations

import base64
import binascii
import json

from praisonai_svc.errors import PayloadError


def encode_cursor(created_iso: str, job_id: str) -> str:
    raw = json.dumps([created_iso, job_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, job_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise PayloadError("Invalid cursor; pass the next_cursor value of the previous page unchanged.") from exc
    if not isinstance(created, str) or not isinstance(job_id, str):
        raise PayloadError("Invalid cursor; pass the next_cursor value of the previous page unchanged.")
    return created, job_id
