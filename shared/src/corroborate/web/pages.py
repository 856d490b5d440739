"""Rendering pages: the shared templates, and the security headers every page carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).parent
STATIC = HERE / "static"

_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(("html",)),
    trim_blocks=True,
    lstrip_blocks=True,
)


def content_security_policy(*, form_targets: str = "") -> str:
    """No inline script or style anywhere, nothing from another origin, never framed. Forms
    post to this service, and may be redirected to ``form_targets`` (the provider, to end its
    session too)."""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            f"form-action 'self' {form_targets}".strip(),
        )
    )


def page_headers(request: Request) -> dict[str, str]:
    targets = getattr(request.app.state, "form_targets", "")
    return {
        "Content-Security-Policy": content_security_policy(form_targets=targets),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    title = getattr(request.app.state, "portal_title", "Corroborate")
    html = _templates.get_template(template).render(portal_title=title, **context)
    return HTMLResponse(html, status_code=status_code, headers=page_headers(request))
