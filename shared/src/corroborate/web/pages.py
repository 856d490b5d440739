"""Rendering pages: the shared templates, and the security headers every page carries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from corroborate.auth import Role

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"
HTMX = "vendor/htmx-2.0.11.min.js"
"""htmx, pinned: served from the kernel's own static files, never from a CDN."""


def templates(*service_templates: Path) -> Environment:
    """The templates a service renders: its own first, then the kernel's (the layout, the
    form macros, the message page)."""
    return Environment(
        loader=ChoiceLoader([FileSystemLoader(p) for p in (*service_templates, TEMPLATES)]),
        autoescape=select_autoescape(("html",)),
        trim_blocks=True,
        lstrip_blocks=True,
    )


_templates = templates()


@dataclass(frozen=True)
class Place:
    """Where a role's work is: a service's page, named as its people name it."""

    service: str
    path: str
    label: str


PLACES: dict[Role, Place] = {
    Role.PARTNER: Place("intake", "/partner/referrals", "Your referrals"),
    Role.ADMIN: Place("intake", "/admin/organisations", "Organisations and people"),
    Role.COORDINATOR: Place("review", "/", "Triage"),
    Role.CLINICIAN: Place("review", "/", "Your cases"),
    Role.SENIOR_CLINICIAN: Place("review", "/", "Peer review"),
    Role.LEGAL: Place("reporting", "/", "Legal sign-off"),
    Role.ANALYST: Place("reporting", "/", "Patterns of torture"),
    Role.MANAGER: Place("reporting", "/", "Operations"),
}
"""Each role's place; the navigation shows a person the places of every role they hold."""


@dataclass(frozen=True)
class NavLink:
    url: str
    label: str
    current: bool


def navigation(request: Request, roles: tuple[Role, ...]) -> list[NavLink]:
    """Links to the places of ``roles``, across the three services, each once."""
    here = getattr(request.app.state, "web_service", "")
    urls: dict[str, str] = getattr(request.app.state, "portal_urls", {})
    links: list[NavLink] = []
    seen: set[str] = set()
    for role in roles:
        place = PLACES[role]
        base = "" if place.service == here else urls.get(place.service, "").rstrip("/")
        url = f"{base}{place.path}"
        if url in seen:
            continue
        seen.add(url)
        current = place.service == here and request.url.path == place.path
        links.append(NavLink(url=url, label=place.label, current=current))
    return links


def content_security_policy(
    *, form_targets: str = "", inline_styles: bool = False, blob_workers: bool = False
) -> str:
    """No inline script or style anywhere, nothing from another origin, never framed. Forms
    post to this service, and may be redirected to ``form_targets`` (the provider, to end its
    session too).

    Only the API's documentation pages relax it, never for scripts: ``inline_styles`` for a
    viewer that writes its own ``<style>`` elements at run time, ``blob_workers`` for one that
    starts its search worker from code of its own held at a ``blob:`` address."""
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'" if inline_styles else "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        f"form-action 'self' {form_targets}".strip(),
    ]
    if blob_workers:
        directives.append("worker-src blob:")
    return "; ".join(directives)


def security_headers(policy: str) -> dict[str, str]:
    """What every page carries: ``policy`` as its Content-Security-Policy, and no sniffing,
    referrer, framing or caching."""
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }


def page_headers(request: Request) -> dict[str, str]:
    targets = getattr(request.app.state, "form_targets", "")
    return security_headers(content_security_policy(form_targets=targets))


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    title = getattr(request.app.state, "portal_title", "Corroborate")
    environment: Environment = getattr(request.app.state, "page_templates", _templates)
    visitor = context.get("visitor")
    nav = navigation(request, visitor.member.roles) if visitor is not None else []
    html = environment.get_template(template).render(
        portal_title=title, nav=nav, htmx=HTMX, **context
    )
    return HTMLResponse(html, status_code=status_code, headers=page_headers(request))
