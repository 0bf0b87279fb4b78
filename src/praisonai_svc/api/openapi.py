"""OpenAPI: publish each service's payload model in the schema of ``POST /jobs``; admin routes only to admins.

``/openapi.json`` (and the docs pages built on it) lists the ``/admin`` routes only when an admin key is
configured *and* the request sends it (``X-Admin-Key``); everyone else gets the schema without them, and
without the components only they use. A wrong admin key counts as a failed authentication.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.routing import Route

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


CONFIGURE_PATH = "/services/{name}/configure"


def enumerate_service_paths(schema: dict[str, Any], names: list[str], configurable: list[str]) -> None:
    """The ``{name}`` of ``/services/{name}...`` is one of the app's services (anything else is a 404); for
    ``configure``, one that declares a config model (an app without any does not publish ``configure``)."""
    paths = schema.get("paths", {})
    if not configurable:
        paths.pop(CONFIGURE_PATH, None)
    for path, operations in paths.items():
        if not path.startswith("/services/{name}"):
            continue
        allowed = configurable if path == CONFIGURE_PATH else names
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "path" and parameter.get("name") == "name":
                    parameter["schema"] = {"type": "string", "enum": allowed, "title": "Service"}


def _config_model(app: ServiceApp, name: str) -> type[BaseModel] | None:
    if name in app.background:
        return app.background[name].service.config_model
    return app.services[name].config_model


def install_openapi(api: FastAPI, app: ServiceApp) -> None:
    def build() -> dict[str, Any]:
        if api.openapi_schema:
            return api.openapi_schema
        schema = get_openapi(title=app.title, version=app.config.app.version or __version__,
                             description=app.config.app.description or app.description or
                             f"{app.title}: a praisonai-svc job service.", routes=api.routes)
        submission = submission_model(app).model_json_schema(ref_template=REF)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(submission.pop("$defs", {}))
        components["JobSubmission"] = submission
        enumerate_services(schema, public_services(app))
        configurable = [name for name in app.registration_order if _config_model(app, name) is not None]
        enumerate_service_paths(schema, app.registration_order or ["default"], configurable)
        from praisonai_svc.api.openapi_security import document_security
        from praisonai_svc.api.plugin_openapi import document_plugins

        document_plugins(schema, app)  # before security, which reads the guarded marks

        document_security(schema, app.settings)
        api.openapi_schema = schema
        return schema

    api.openapi = build  # type: ignore[method-assign]
    public: dict[str, Any] = {}

    async def openapi_json(request: Request) -> JSONResponse:
        from praisonai_svc.api.admin_key import presents_admin_key

        if await presents_admin_key(request):
            return JSONResponse(build())
        if not public:
            public.update(without_admin_routes(build()))
        return JSONResponse(public)

    # FastAPI registered its own /openapi.json route (serving the same schema to everyone); take its place.
    api.router.routes[:] = [Route(route.path, openapi_json, include_in_schema=False)
                            if isinstance(route, Route) and route.path == api.openapi_url else route
                            for route in api.router.routes]


ADMIN_PREFIX = "/admin"


def without_admin_routes(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` without the admin paths, and without the component schemas only they used."""
    public = copy.deepcopy(schema)
    public["paths"] = {path: item for path, item in public.get("paths", {}).items()
                       if not path.startswith(ADMIN_PREFIX)}
    components = public.get("components", {}).get("schemas", {})
    used: set[str] = set()
    pending = [json.dumps(public["paths"])]
    while pending:  # follow $refs from the remaining paths, through the schemas they name
        for name in re.findall(r'"#/components/schemas/([^"]+)"', pending.pop()):
            if name not in used and name in components:
                used.add(name)
                pending.append(json.dumps(components[name]))
    for name in set(components) - used:
        del components[name]
    return public
