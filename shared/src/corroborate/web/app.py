"""Putting the sign-in pages and the shared static files on a service's app."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from corroborate.oidc import ClientSettings, RelyingParty
from corroborate.runtime import ServiceRuntime
from corroborate.settings import Settings
from corroborate.web.directory_copy import COPY, DirectoryCopy
from corroborate.web.pages import STATIC
from corroborate.web.routes import router
from corroborate.web.sessions import SESSIONS, SIGN_INS, SessionPolicy, Sessions
from corroborate.web.signin import Directory, WebSignIn


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
    service_url: str,
    runtime: ServiceRuntime,
    directory: Directory,
    client: ProviderClient,
) -> WebSignIn | None:
    """The sign-in of ``service``'s pages, or None where no provider is configured (an API-only
    deployment)."""
    if not settings.oidc_issuer or settings.oidc_clients_file is None:
        return None
    clients = json.loads(settings.oidc_clients_file.read_text(encoding="utf-8"))
    own = clients[service]
    relying_party = RelyingParty(
        ClientSettings(
            issuer=settings.oidc_issuer,
            client_id=own["client_id"],
            client_secret=own["client_secret"],
            redirect_uri=f"{service_url.rstrip('/')}/auth/callback",
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
    return WebSignIn(relying_party=relying_party, sessions=sessions, directory=directory)


def directory_copy(runtime: ServiceRuntime) -> DirectoryCopy:
    """The copy of the directory a service that does not own it keeps from its events."""
    return DirectoryCopy(runtime.collection(COPY))


def install_pages(app: FastAPI, *, service: str, title: str, sign_in: WebSignIn) -> None:
    """``/auth/...`` and ``/static/...`` on ``app``, signing people in with ``sign_in``."""
    issuer = urlsplit(sign_in.relying_party.settings.issuer)
    app.state.web_sign_in = sign_in
    app.state.web_service = service
    app.state.portal_title = title
    # Signing out is a form whose answer sends the browser on to the provider's end-session
    # endpoint: the policy for forms must allow that one origin.
    app.state.form_targets = f"{issuer.scheme}://{issuer.netloc}"
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(router)
