"""Read a request body with a hard size limit (also for chunked bodies) and parse it as JSON or YAML."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request

from praisonai_svc.errors import PayloadError, PayloadTooLarge, RequestTimeout
from praisonai_svc.models.job import JobRequest
from praisonai_svc.safe_parse import parse_json, parse_yaml
from praisonai_svc.yaml_limits import DeadlineExceeded

JSON_TYPES = {"application/json", "text/json"}
YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}


async def read_limited(request: Request, limit: int, timeout: float) -> bytes:
    """The body, refusing (413) as soon as it exceeds ``limit`` bytes, whatever Content-Length claims, and (408)
    when it has not fully arrived ``timeout`` seconds after the request started: a client that announces a
    body and never sends it would otherwise hold its connection, and a slot of the server, forever."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body is {int(declared)} bytes; the limit is {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes.")
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(f"The request body did not arrive within {timeout:g} s ({size} bytes received); "
                             "nothing was queued. Send the whole body promptly.") from None
    return b"".join(chunks)


def parse_document(raw: bytes, content_type: str, *, deadline: float | None = None,
                   budget_seconds: float | None = None) -> Any:
    """JSON or YAML by Content-Type; anything else is tried as JSON, then YAML.

    CPU work chosen by the sender: the API calls it only through :class:`~praisonai_svc.api.parse_pool.ParsePool`,
    off the event loop. ``deadline`` (:func:`time.monotonic`) bounds the parse (see :mod:`praisonai_svc.safe_parse`).
    """
    limits = {"deadline": deadline, "budget_seconds": budget_seconds}
    if not raw.strip():
        raise PayloadError('Empty body: send {"payload": {...}} as JSON or YAML.')
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("Body is not UTF-8 text.") from None
    media = content_type.split(";")[0].strip().lower()
    if media in JSON_TYPES:
        return parse_json(text, **limits)
    if media in YAML_TYPES:
        return parse_yaml(text, **limits)
    try:
        return parse_json(text, **limits)
    except DeadlineExceeded:
        raise
    except PayloadError:
        return parse_yaml(text, **limits)


NOT_INLINE: Any = object()  # parse_small_json's answer: "not for the event loop, send it to the parse pool"


def parse_small_json(raw: bytes, content_type: str) -> Any:
    """A small body (the caller checks its size, see :data:`~praisonai_svc.api.parse_pool.INLINE_JSON_BYTES`)
    parsed here, on the event loop, when it is JSON; :data:`NOT_INLINE` when it must go to the parse pool.

    Gives what :func:`parse_document` would for the same body, refusals included (same errors, same texts):
    YAML media types are never parsed here, JSON media types always are, and a body of any other or no media
    type is tried as JSON here and, if that fails, left to the pool (JSON, then YAML).
    """
    media = content_type.split(";")[0].strip().lower()
    if media in YAML_TYPES:
        return NOT_INLINE
    json_media = media in JSON_TYPES
    if not raw.strip():
        raise PayloadError('Empty body: send {"payload": {...}} as JSON or YAML.')
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("Body is not UTF-8 text.") from None
    if json_media:
        return parse_json(text)
    try:
        return parse_json(text)
    except PayloadError:
        return NOT_INLINE  # perhaps YAML: the pool tries both


MAX_CALLBACK_URL = 2048


def to_job_request(document: Any, service: str | None) -> JobRequest:
    if not isinstance(document, dict):
        raise PayloadError('The body must be an object: {"payload": {...}}.')
    if "payload" not in document:
        raise PayloadError('The body has no "payload" field: send {"payload": {...}}.')
    if not isinstance(document["payload"], dict):
        raise PayloadError(f'"payload" must be an object, not {type(document["payload"]).__name__}.')
    if service is not None and document.get("service") not in (None, service):
        raise PayloadError("The service named in the query and in the body differ.")
    extra = set(document) - {"payload", "service", "callback_url", "webhook_progress"}
    if extra:
        raise PayloadError(f"Unknown field(s) {', '.join(sorted(extra))}: the body is {{\"payload\": ..., "
                           f"\"service\": optional name}}.")
    named = document.get("service")
    if named is not None and not isinstance(named, str):
        raise PayloadError('"service" must be a string.')
    callback = document.get("callback_url")
    if callback is not None and (not isinstance(callback, str) or len(callback) > MAX_CALLBACK_URL):
        raise PayloadError(f'"callback_url" must be a URL of at most {MAX_CALLBACK_URL} characters.')
    progress = document.get("webhook_progress", False)
    if not isinstance(progress, bool):
        raise PayloadError('"webhook_progress" must be true or false.')
    return JobRequest(payload=document["payload"], service=named or service, callback_url=callback,
                      webhook_progress=progress)
