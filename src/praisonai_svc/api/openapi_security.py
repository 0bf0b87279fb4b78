"""OpenAPI: declare how the job routes authenticate, and that validation errors are 400 (not FastAPI's 422).

Security schemes are published only when authentication is configured, so the schema never claims a check
the running service does not make (and clients generated from it send the right header).
"""

from __future__ import annotations

from typing import Any

from praisonai_svc.security.guard import auth_configured
from praisonai_svc.settings import Settings

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
# Routes behind ``require_access`` carry this in ``openapi_extra`` (removed from the published schema).
GUARDED_MARK = "x-praisonai-guarded"
GUARDED_EXTRA = {GUARDED_MARK: True}


def _schemes(settings: Settings) -> dict[str, Any]:
    schemes: dict[str, Any] = {}
    if settings.api_keys or settings.tenant_key_map:
        schemes["ApiKeyAuth"] = {"type": "apiKey", "in": "header", "name": "X-API-Key",
                                 "description": "PRAISONAI_API_KEY or a tenant's key (PRAISONAI_TENANT_KEYS)"}
    if settings.jwt_secret_value:
        schemes["BearerAuth"] = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                 "description": "HS256 token with exp, aud (and iss) claims; optional tenant"}
    return schemes


def _validation_is_400(operation: dict[str, Any]) -> None:
    responses = operation.get("responses", {})
    if responses.pop("422", None) is not None and "400" not in responses:
        responses["400"] = {"description": "Invalid request parameters",
                            "content": {"application/json": {"schema": ERROR_REF}}}


def document_security(schema: dict[str, Any], settings: Settings) -> None:
    """Add security schemes and requirements to ``schema`` and map 422 responses to our 400."""
    schemes = _schemes(settings) if auth_configured(settings) else {}
    if schemes:
        schema.setdefault("components", {})["securitySchemes"] = schemes
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            _validation_is_400(operation)
            if operation.pop(GUARDED_MARK, False) and schemes:
                operation["security"] = [{name: []} for name in schemes]
