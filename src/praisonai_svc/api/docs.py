"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) served from assets inside the installed packages: no CDN.

The assets come from ``fastapi-offline`` (pinned in pyproject.toml; docs/api.md says why that package): its
wheel ships ``swagger-ui-bundle.js``, ``swagger-ui.css`` and ``redoc.standalone.js``. The pages have no inline
script (Swagger UI starts from :data:`SWAGGER_INIT`, a file of ours), so their CSP allows scripts from
``'self'`` only; see :mod:`praisonai_svc.security.headers`.
"""

from __future__ import annotations

import html
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.routing import APIRouter

from praisonai_svc.errors import JobNotFound

ASSETS = "/docs-assets"
_VENDOR = Path(str(files("fastapi_offline").joinpath("static")))
_OURS = {
    "swagger-init.js": (
        "window.ui = SwaggerUIBundle({url: document.getElementById('swagger-ui').dataset.openapi, "
        "dom_id: '#swagger-ui', layout: 'BaseLayout', deepLinking: true, showExtensions: true, "
        "showCommonExtensions: true, presets: [SwaggerUIBundle.presets.apis, "
        "SwaggerUIBundle.SwaggerUIStandalonePreset]});\n"
    ),
}
_VENDOR_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
                 "redoc.standalone.js": "text/javascript", "favicon.png": "image/png"}
SWAGGER_INIT = "swagger-init.js"
router = APIRouter(include_in_schema=False)


def _page(title: str, head: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<link rel=\"icon\" href=\"{ASSETS}/favicon.png\">{head}</head><body>{body}</body></html>"
    )


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return _page(
        f"{request.app.title} - Swagger UI",
        f"<link rel=\"stylesheet\" href=\"{root}{ASSETS}/swagger-ui.css\">",
        f"<div id=\"swagger-ui\" data-openapi=\"{root}{request.app.openapi_url}\"></div>"
        f"<script src=\"{root}{ASSETS}/swagger-ui-bundle.js\"></script>"
        f"<script src=\"{root}{ASSETS}/{SWAGGER_INIT}\"></script>",
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return _page(
        f"{request.app.title} - ReDoc", "",
        f"<redoc spec-url=\"{root}{request.app.openapi_url}\"></redoc>"
        f"<script src=\"{root}{ASSETS}/redoc.standalone.js\"></script>",
    )


@router.get(ASSETS + "/{name}")
async def asset(name: str) -> Response:
    """One asset by exact name (a fixed list: nothing else on disk is reachable)."""
    if name in _OURS:
        return Response(_OURS[name], media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"})
    if name in _VENDOR_FILES:
        return FileResponse(_VENDOR / name, media_type=_VENDOR_FILES[name],
                            headers={"Cache-Control": "public, max-age=86400"})
    raise JobNotFound("Not Found")


def install_docs(api: FastAPI) -> None:
    """Serve the offline docs (call on an app created with ``docs_url=None, redoc_url=None``)."""
    api.include_router(router)
