"""Putting the sign-in pages and the shared static files on a service's app."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from corroborate.auth import Role
from corroborate.oidc import ClientSettings, RelyingParty
from corroborate.runtime import ServiceRuntime
from corroborate.settings import Settings
from corroborate.web.directory_copy import COPY, DirectoryCopy
from corroborate.web.pages import STATIC
from corroborate.web.pages import templates as page_templates
from corroborate.web.routes import router, session_caller
from corroborate.web.sessions import SESSIONS, SIGN_INS, SessionPolicy, Sessions
from corroborate.web.signin import Directory, WebSignIn
from corroborate.web.views import HomeSections, Landing, home_router


class ProviderClient:
    """The HTTP client a service talks to its identity provider with, closed with the service
    (a ``Worker``)."""

    def __init__(self) -> None:
        self.http = httpx.AsyncClient(timeout=10.0)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.http.aclose()


def web_sign_in(
    settings: Settings,
    *,
    service: str,
    runtime: ServiceRuntime,
    directory: Directory,
    client: ProviderClient,
) -> WebSignIn | None:
    """The sign-in of ``service``'s pages, or None where no provider is configured (an API-only
    deployment)."""
    if not settings.oidc_issuer:
        return None
    client_id, client_secret = _client(settings, service)
    if not client_id:
        return None
    one_factor_roles = frozenset(Role(r) for r in _listed(settings.oidc_one_factor_roles))
    relying_party = RelyingParty(
        ClientSettings(
            issuer=settings.oidc_issuer,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=f"{portal_urls(settings)[service].rstrip('/')}/auth/callback",
            scopes=tuple(settings.oidc_scopes.split()),
            second_factor_acr=frozenset(_listed(settings.oidc_second_factor_acr)),
            email_claim=settings.oidc_email_claim,
            claims_request=settings.oidc_claims_request,
            one_factor_allowed=bool(one_factor_roles),
        ),
        client.http,
    )
    sessions = Sessions(
        runtime.collection(SESSIONS),
        runtime.collection(SIGN_INS),
        policy=SessionPolicy(
            idle=timedelta(minutes=settings.web_session_idle_minutes),
            absolute=timedelta(hours=settings.web_session_absolute_hours),
        ),
    )
    return WebSignIn(
        relying_party=relying_party,
        sessions=sessions,
        directory=directory,
        one_factor_roles=one_factor_roles,
    )


def _listed(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _client(settings: Settings, service: str) -> tuple[str, str]:
    """This service's client id and secret: from the clients file where it names the service
    (the local provider's set-up writes one), else from the settings."""
    if settings.oidc_clients_file is not None:
        clients = json.loads(settings.oidc_clients_file.read_text(encoding="utf-8"))
        if service in clients:
            return str(clients[service]["client_id"]), str(clients[service]["client_secret"])
    return settings.oidc_client_id, settings.oidc_client_secret.get_secret_value()


def directory_copy(runtime: ServiceRuntime) -> DirectoryCopy:
    """The copy of the directory a service that does not own it keeps from its events."""
    return DirectoryCopy(runtime.collection(COPY))


@dataclass(frozen=True)
class CopiedDirectorySignIn:
    """The sign-in of a service that does not own the directory: its copy of it, the client
    it reaches the provider with, and the sign-in (None without a provider)."""

    staff: DirectoryCopy
    provider: ProviderClient
    sign_in: WebSignIn | None


def copied_directory_sign_in(
    settings: Settings, *, service: str, runtime: ServiceRuntime
) -> CopiedDirectorySignIn:
    staff = directory_copy(runtime)
    provider = ProviderClient()
    sign_in = web_sign_in(
        settings, service=service, runtime=runtime, directory=staff, client=provider
    )
    return CopiedDirectorySignIn(staff=staff, provider=provider, sign_in=sign_in)


def install_pages(
    app: FastAPI,
    *,
    service: str,
    title: str,
    sign_in: WebSignIn,
    urls: dict[str, str],
    templates: tuple[Path, ...] = (),
    home: HomeSections | None = None,
    landing: Landing | None = None,
    pages: Iterable[APIRouter] = (),
) -> None:
    """``/auth/...`` and ``/static/...`` on ``app``, signing people in with ``sign_in``; the
    service's own templates (``templates``) before the kernel's; and, with ``home``, the
    kernel's home page at ``/`` showing what ``home`` finds for the visitor (or sending them
    where ``landing`` says); the service's own ``pages``. ``urls`` are the three services'
    addresses, for the navigation between them."""
    issuer = urlsplit(sign_in.relying_party.settings.issuer)
    app.state.web_sign_in = sign_in
    app.state.session_caller = session_caller
    app.state.web_service = service
    app.state.portal_title = title
    app.state.portal_urls = urls
    app.state.page_templates = page_templates(*templates)
    # Signing out is a form whose answer sends the browser on to the provider's end-session
    # endpoint: the policy for forms must allow that one origin.
    app.state.form_targets = f"{issuer.scheme}://{issuer.netloc}"
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(router)
    for page_router in pages:
        app.include_router(page_router)
    if home is not None:
        app.state.home_sections = home
        app.state.home_landing = landing
        app.include_router(home_router)


def portal_urls(settings: Settings) -> dict[str, str]:
    return {
        "intake": settings.intake_url,
        "review": settings.review_url,
        "reporting": settings.reporting_url,
    }
