"""OpenAPI: publish each service's payload model in the schema of ``POST /jobs``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, create_model

from praisonai_svc._version import __version__
from praisonai_svc.app import ServiceApp

REF = "#/components/schemas/{model}"


def submission_model(app: ServiceApp) -> type[BaseModel]:
    """``{"payload": <one of the services' payloads>, "service": <one of the names>}`` as a model."""
    payload_types: list[Any] = [spec.payload_model for spec in app.services.values() if spec.payload_model]
    payload_type: Any = dict[str, Any]
    for model in payload_types:
        payload_type = model | payload_type
    names = public_services(app)
    service_type: Any = Literal[names]
    return create_model(
        "JobSubmission",
        __config__=ConfigDict(extra="forbid"),
        payload=(payload_type, Field(description="The job's input, validated against the service's model")),
        service=(service_type | None, Field(default=None, description="Which service runs it; default: first")),
        callback_url=(str | None, Field(default=None, max_length=2048, description=(
            "Webhook: the job is POSTed here when it ends (done, error, cancelled); needs PRAISONAI_WEBHOOK_SECRET"))),
        webhook_progress=(bool, Field(default=False, description="Also POST the job on each progress event")),
    )


def public_services(app: ServiceApp) -> tuple[str, ...]:
    """The services clients may name (built-in ones, such as webhook deliveries, are not among them)."""
    return tuple(name for name, spec in app.services.items() if not spec.internal) or ("default",)


def enumerate_services(schema: dict[str, Any], names: tuple[str, ...]) -> None:
    """Every ``?service=`` parameter accepts exactly the hosted services' names (anything else is a 400)."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "query" and parameter.get("name") == "service":
                    description = parameter["schema"].get("description")
                    parameter["schema"] = {"anyOf": [{"type": "string", "enum": list(names)}, {"type": "null"}],
                                           **({"description": description} if description else {})}


def install_openapi(api: FastAPI, app: ServiceApp) -> None:
    def build() -> dict[str, Any]:
        if api.openapi_schema:
            return api.openapi_schema
        schema = get_openapi(title=app.name, version=__version__, description=app.description or
                             f"{app.name}: a praisonai-svc job service.", routes=api.routes)
        submission = submission_model(app).model_json_schema(ref_template=REF)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(submission.pop("$defs", {}))
        components["JobSubmission"] = submission
        enumerate_services(schema, public_services(app))
        from praisonai_svc.api.openapi_security import document_security

        document_security(schema, app.settings)
        api.openapi_schema = schema
        return schema

    api.openapi = build  # type: ignore[method-assign]
