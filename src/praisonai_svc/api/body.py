"""Read a request body with a hard size limit (also for chunked bodies) and parse it as JSON or YAML."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request
from starlette.requests import ClientDisconnect
from starlette.types import Scope

from praisonai_svc.errors import PayloadError, PayloadTooLarge, RequestTimeout
from praisonai_svc.models.job import JobRequest
from praisonai_svc.safe_parse import json_needs_walk, parse_json, parse_yaml
from praisonai_svc.yaml_limits import DeadlineExceeded

JSON_TYPES = {"application/json", "text/json"}
YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}


async def read_limited(request: Request, limit: int, timeout: float) -> bytes:
    """The body, refusing (413) as soon as it exceeds ``limit`` bytes, whatever Content-Length claims, and (408)
    when it has not fully arrived ``timeout`` seconds after the request started: a client that announces a
    body and never sends it would otherwise hold its connection, and a slot of the server, forever.

    Reads the ASGI messages itself, like ``Request.stream`` (a disconnect raises ClientDisconnect, and the stream
    counts as consumed), and times the read with one timer handle (:class:`_Deadline`) instead of
    ``asyncio.timeout``, whose context manager cost more than the rest of the read (~6 of ~13 µs).
    """
    declared = _content_length(request.scope)
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"Request body is {declared} bytes; the limit is {limit} bytes.")
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    with _Deadline(timeout) as deadline:
        try:
            while True:
                message = await receive()
                if message["type"] != "http.request":  # http.disconnect: the client went away
                    request._is_disconnected = True  # what Request.stream records
                    raise ClientDisconnect()
                chunk = message.get("body", b"")
                if chunk:
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes.")
                    chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        except asyncio.CancelledError:
            if deadline.expired():
                raise RequestTimeout(f"The request body did not arrive within {timeout:g} s ({size} bytes "
                                     "received); nothing was queued. Send the whole body promptly.") from None
            raise
    request._stream_consumed = True  # as after Request.stream: reading the body again is an error
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _content_length(scope: Scope) -> int | None:
    """The Content-Length header's value if it is all digits (what Starlette's Headers would give, first one)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def header(scope: Scope, name: bytes) -> str:
    """The first value of the (lower-case) header ``name``, or "" (``request.headers.get(name, "")`` without
    building the Headers object)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


class _Deadline:
    """``asyncio.timeout`` for one await loop, with one timer handle: at the deadline the task is cancelled; the
    caller asks :meth:`expired` when it sees CancelledError. Like ``asyncio.timeout``, a cancellation that
    arrives from elsewhere at the same time is passed on (``Task.uncancel`` counts them)."""

    __slots__ = ("_cancelling", "_fired", "_handle", "_task", "_timeout")

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._fired = False

    def __enter__(self) -> _Deadline:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._cancelling = task.cancelling()
        self._handle = asyncio.get_running_loop().call_later(self._timeout, self._fire)
        return self

    def _fire(self) -> None:
        self._fired = True
        self._task.cancel()

    def expired(self) -> bool:
        """Whether this deadline cancelled the task (and no one else did meanwhile): then the cancellation is
        taken back, and the caller raises its timeout error instead."""
        return self._fired and self._task.uncancel() <= self._cancelling

    def __exit__(self, *_exc: object) -> None:
        self._handle.cancel()


def parse_document(raw: bytes, content_type: str, *, deadline: float | None = None,
                   budget_seconds: float | None = None) -> Any:
    """JSON or YAML by Content-Type; anything else is tried as JSON, then YAML.

    CPU work chosen by the sender: the API calls it only through :class:`~praisonai_svc.api.parse_pool.ParsePool`,
    off the event loop (but for small JSON, :func:`parse_small_json`). ``deadline`` (:func:`time.monotonic`)
    bounds the parse (see :mod:`praisonai_svc.safe_parse`).
    """
    limits: dict[str, Any] = {"deadline": deadline, "budget_seconds": budget_seconds}
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
    YAML media types are never parsed here, JSON media types are, and a body of any other or no media type is
    tried as JSON here and, if that fails, left to the pool (JSON, then YAML). So is JSON whose checks would
    walk the parsed value in Python (more than 64 brackets, or a surrogate escape such as ``\\ud83d``): that
    walk costs up to ~1 ms for 4 KiB of empty containers, the C parser alone at most ~0.25 ms (1,000 floats).
    """
    media = content_type.split(";")[0].strip().lower()
    if media in YAML_TYPES:
        return NOT_INLINE
    json_media = media in JSON_TYPES
    if not raw or raw.isspace():  # what ``not raw.strip()`` tells, without the copy
        raise PayloadError('Empty body: send {"payload": {...}} as JSON or YAML.')
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("Body is not UTF-8 text.") from None
    if json_needs_walk(text):
        return NOT_INLINE
    if json_media:
        return parse_json(text, walk=False)  # the limits are vouched for: json_needs_walk said so
    try:
        return parse_json(text, walk=False)
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
