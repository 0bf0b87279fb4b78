"""OpenAPI for the plugin routes: one operation per plugin, its request body from the plugin's input model."""

from __future__ import annotations

from typing import Any

from praisonai_svc.api.openapi_security import GUARDED_MARK
from praisonai_svc.app import ServiceApp
from praisonai_svc.plugins.base import BasePlugin

REF = "#/components/schemas/{model}"
ENVELOPE = {"type": "object", "required": ["success", "error"], "properties": {
    "success": {"type": "boolean", "const": False}, "error": {"type": "string"}}}
_ERRORS = {
    "400": "Invalid input (e.g. Missing required parameter: image_url), or not a usable image",
    "401": "Invalid API key",
    "413": "File size exceeds maximum of N bytes",
    "429": "Rate limit reached; retry after Retry-After",
    "501": "Plugin not found",
    "502": "Failed to download the input: <reason>",
    "503": "Plugin disabled",
    "504": "Over the plugin's time budget (sync_timeout_seconds); use ?mode=async",
}


def _operation(plugin: BasePlugin, body_ref: dict[str, Any]) -> dict[str, Any]:
    success = {"type": "object", "properties": {
        "success": {"type": "boolean", "const": True}, "data": {"type": "object"},
        "execution_time_ms": {"type": "integer"}}}
    form = {"type": "object", "properties": {"file": {"type": "string", "format": "binary"},
                                             "options": {"type": "string", "description": "JSON object"}}}
    return {
        "tags": ["plugins"], "summary": plugin.display_name or plugin.name, "operationId": f"plugin_{plugin.name}",
        "description": (plugin.description or "") + f"\n\nAlso a job service: POST /jobs with service "
                                                    f"'{plugin.name}', or ?mode=async here.",
        "parameters": [{"name": "mode", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": ["sync", "async"]},
                        "description": "async: queue a job and answer 202 with it"}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body_ref},
                                                      "multipart/form-data": {"schema": form}}},
        "responses": {
            "200": {"description": "The result", "content": {"application/json": {"schema": success}}},
            "202": {"description": "Queued as a job (?mode=async)"},
            **{code: {"description": text, "content": {"application/json": {"schema": ENVELOPE}}}
               for code, text in _ERRORS.items()},
        },
        GUARDED_MARK: True,
    }


def document_plugins(schema: dict[str, Any], app: ServiceApp) -> None:
    """Add ``POST /api/v1/{category}/{action}`` of every registered plugin to ``schema``."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    paths = schema.setdefault("paths", {})
    for plugin in app.plugins:
        body_ref: dict[str, Any] = {"type": "object"}
        if plugin.input_model is not None:
            model_schema = plugin.input_model.model_json_schema(ref_template=REF)
            components.update(model_schema.pop("$defs", {}))
            components[plugin.input_model.__name__] = model_schema
            body_ref = {"$ref": REF.format(model=plugin.input_model.__name__)}
        action = plugin.name[len(plugin.category) + 1:]
        paths[f"/api/v1/{plugin.category}/{action}"] = {"post": _operation(plugin, body_ref)}
