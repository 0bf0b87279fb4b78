"""The input of a plugin call: a JSON (or YAML) object, or a multipart form with the file in ``file``.

JSON bodies have the job routes' limit (PRAISONAI_MAX_PAYLOAD_SIZE); a multipart body may be as large as the
plugin's ``max_file_size`` (plus room for the form's other fields). Both are enforced while reading.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from praisonai_svc.api.body import read_limited
from praisonai_svc.errors import PayloadError, PayloadTooLarge
from praisonai_svc.plugins.base import BasePlugin, Upload

FORM_OVERHEAD = 64 * 1024  # boundaries, part headers and the small fields next to the file


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"File size exceeds maximum of {limit} bytes")


async def read_input(request: Request, plugin: BasePlugin, json_limit: int, timeout: float) -> dict[str, Any]:
    """The plugin's input from a JSON (or YAML) body, parsed off the event loop like every untrusted body, or
    from a multipart upload."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    if media == "multipart/form-data":
        return await _read_form(request, plugin.config.max_file_size, timeout)
    raw = await read_limited(request, json_limit, timeout)
    document = await request.app.state.parse_pool.parse(raw, content_type)
    if not isinstance(document, dict):
        raise PayloadError("The body must be a JSON object, e.g. {\"image_url\": \"https://...\"}.")
    return document


async def _read_form(request: Request, max_file_size: int, timeout: float) -> dict[str, Any]:
    try:
        raw = await read_limited(request, max_file_size + FORM_OVERHEAD, timeout)
    except PayloadTooLarge:
        raise _too_large(max_file_size) from None

    async def replay() -> AsyncGenerator[bytes, None]:
        yield raw

    try:
        form = await MultiPartParser(request.headers, replay(), max_files=1, max_fields=32).parse()
    except MultiPartException as exc:
        raise PayloadError(f"Malformed multipart body: {exc.message}") from None
    values: dict[str, Any] = {}
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != "file":
                    raise PayloadError(f"Send the file in the multipart field 'file', not {name!r}.")
                data = await value.read()
                if len(data) > max_file_size:
                    raise _too_large(max_file_size)
                values["file"] = Upload(data, value.filename or "upload", value.content_type or "")
            else:
                values[name] = _field(name, value)
    finally:
        await form.close()
    return values


def _field(name: str, value: str) -> Any:
    """``options`` is JSON text; other fields stay strings."""
    if name != "options":
        return value
    try:
        options = json.loads(value)
    except ValueError:
        raise PayloadError("The form field 'options' must be a JSON object.") from None
    if not isinstance(options, dict):
        raise PayloadError("The form field 'options' must be a JSON object.")
    return options
