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

from praisonai_svc.api.body import parse_document, read_limited
from praisonai_svc.errors import PayloadError, PayloadTooLarge
from praisonai_svc.plugins.base import BasePlugin, Upload

FORM_OVERHEAD = 64 * 1024  # boundaries, part headers and the small fields next to the file


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"File size exceeds maximum of {limit} bytes")


async def read_input(request: Request, plugin: BasePlugin, json_limit: int) -> dict[str, Any]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        return await _read_form(request, plugin.config.max_file_size)
    document = parse_document(await read_limited(request, json_limit), media)
    if not isinstance(document, dict):
        raise PayloadError("The body must be a JSON object, e.g. {\"image_url\": \"https://...\"}.")
    return document


async def _read_form(request: Request, max_file_size: int) -> dict[str, Any]:
    try:
        raw = await read_limited(request, max_file_size + FORM_OVERHEAD)
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
