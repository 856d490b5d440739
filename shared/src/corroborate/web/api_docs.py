"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), built from files
the service serves itself: they work on a machine with no internet, and no third-party script
runs on the origin where people paste bearer tokens. No inline script: each page starts its
viewer from ``api-docs.js``, which reads the OpenAPI document's address from a data- attribute."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import FileResponse, HTMLResponse

from corroborate.web.pages import STATIC, content_security_policy, security_headers, templates

SWAGGER_UI_VERSION = "5.31.0"
"""Swagger UI's dist files, as the PyPI package ``swagger-ui-bundle-v2`` ships them (byte for
byte npm's ``swagger-ui-dist`` of the same version)."""
SWAGGER_UI = Path(str(files("swagger_ui_bundle"))) / "vendor" / f"swagger-ui-{SWAGGER_UI_VERSION}"
REDOC = "vendor/redoc-2.5.4.standalone.js"
"""ReDoc's ``bundles/redoc.standalone.js`` from the npm package ``redoc@2.5.4``, in the kernel's
static files, with one change: the logo beside "API docs by Redocly", which it fetches from
Redocly's CDN, is an empty ``data:`` image (which its own error handler then drops)."""

JAVASCRIPT = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"
ASSETS: dict[str, tuple[Path, str]] = {
    "swagger-ui.css": (SWAGGER_UI / "swagger-ui.css", CSS),
    "swagger-ui-bundle.js": (SWAGGER_UI / "swagger-ui-bundle.js", JAVASCRIPT),
    "redoc.standalone.js": (STATIC / REDOC, JAVASCRIPT),
    "api-docs.js": (STATIC / "api-docs.js", JAVASCRIPT),
    "api-docs.css": (STATIC / "api-docs.css", CSS),
}
"""Every file the documentation pages load, by the name they load it under; nothing else of the
packages' folders (their demo page points at a public example API) is served."""
ASSETS_PATH = "/docs/assets"

SWAGGER_UI_POLICY = content_security_policy()
"""Swagger UI runs under the pages' own policy, unchanged (checked in a browser)."""
# ReDoc styles itself with styled-components, which writes <style> elements at run time: it
# renders nothing unless this page allows inline styles. Its search index runs in a worker it
# starts from a blob: URL of its own code. Scripts stay 'self' only; the page holds no token
# (ReDoc has no "try it out"), so a style injected there could read nothing worth taking.
REDOC_POLICY = content_security_policy(inline_styles=True, blob_workers=True)

router = APIRouter(include_in_schema=False)
_templates = templates()


def _page(request: Request, template: str, *, policy: str) -> HTMLResponse:
    # Behind a proxy that mounts the service under a prefix, as FastAPI's own pages do.
    root = str(request.scope.get("root_path", "")).rstrip("/")
    html = _templates.get_template(template).render(
        title=request.app.title,
        openapi_url=f"{root}{request.app.openapi_url}",
        assets=f"{root}{ASSETS_PATH}",
    )
    return HTMLResponse(html, headers=security_headers(policy))


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return _page(request, "swagger_ui.html", policy=SWAGGER_UI_POLICY)


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return _page(request, "redoc.html", policy=REDOC_POLICY)


@router.get(f"{ASSETS_PATH}/{{name}}")
async def asset(name: str) -> FileResponse:
    found = ASSETS.get(name)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such documentation file")
    path, media_type = found
    return FileResponse(path, media_type=media_type, headers={"X-Content-Type-Options": "nosniff"})
