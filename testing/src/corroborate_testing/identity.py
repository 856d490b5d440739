"""A person signing in at the local OpenID Connect provider without a browser: the same calls
Glewlwyd's own sign-in page makes (password, then the TOTP code, then consent), then the
authorization request, whose answer is the redirect back to the relying party."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from pymongo import AsyncMongoClient

from corroborate.provider import (
    API_SCOPE,
    OTP_SCHEME,
    GlewlwydAdmin,
    MachineClient,
    Person,
    new_person,
    totp,
)
from corroborate.settings import Settings
from corroborate.web.directory_copy import COPY
from corroborate_testing import eventually


class ProviderRefused(Exception):
    """The provider did not sign the person in (wrong password or code, disabled account)."""


@dataclass
class Codes:
    """TOTP codes, each used once: the provider refuses a code it has already accepted, so a
    second sign-in by the same person waits for the next 30-second step."""

    used: dict[str, int] = field(default_factory=dict)

    async def fresh(self, person: Person) -> str:
        step = int(time.time() // 30)
        if self.used.get(person.username) == step:
            await asyncio.sleep(30 - time.time() % 30 + 0.2)
            step = int(time.time() // 30)
        self.used[person.username] = step
        return totp(person.totp_secret)


async def sign_in_at_provider(
    provider_url: str,
    person: Person,
    authorization_url: str,
    *,
    codes: Codes,
    client_id: str,
    scope: str = "openid email profile",
    code: str | None = None,
    second_factor: bool = True,
) -> dict[str, str]:
    """Sign ``person`` in and follow ``authorization_url``; the query parameters the provider
    sends back to the relying party's redirect URI (``code`` and ``state``, or ``error``)."""
    api = f"{provider_url.rstrip('/')}/api"
    async with httpx.AsyncClient(timeout=30.0) as http:
        signed = await http.post(
            f"{api}/auth/", json={"username": person.username, "password": person.password}
        )
        if signed.status_code != 200:
            raise ProviderRefused(f"password: HTTP {signed.status_code}")
        if second_factor:
            await _second_factor(http, api, person, codes, code)
        granted = await http.put(f"{api}/auth/grant/{client_id}", json={"scope": scope})
        if granted.status_code != 200:
            raise ProviderRefused(f"consent: HTTP {granted.status_code}")
        # g_continue: what the provider's page adds once the person has signed in and agreed.
        answer = await http.get(authorization_url + "&g_continue")
    location = answer.headers.get("location", "")
    if answer.status_code != 302 or "login.html" in location:
        raise ProviderRefused(f"authorization: HTTP {answer.status_code} to {location[:200]}")
    return dict(parse_qsl(urlsplit(location).query))


async def _second_factor(
    http: httpx.AsyncClient, api: str, person: Person, codes: Codes, code: str | None
) -> None:
    """Send the TOTP code. A code of the app's is refused if an earlier run already used the
    same one (the provider accepts each code once): then the next step's code is sent."""
    for attempt in range(2):
        value = code if code is not None else await codes.fresh(person)
        otp = await http.post(
            f"{api}/auth/",
            json={
                "username": person.username,
                "scheme_type": "otp",
                "scheme_name": OTP_SCHEME,
                "value": {"value": value},
            },
        )
        if otp.status_code == 200:
            return
        if code is not None or attempt == 1:
            raise ProviderRefused(f"TOTP code: HTTP {otp.status_code}")
        codes.used[person.username] = int(time.time() // 30)  # wait for the next step


@dataclass(frozen=True)
class LocalProvider:
    """The test command's provider: its address, clients, demo people, and new people a test
    creates there (each test its own, so no two tests spend the same person's codes)."""

    url: str
    issuer: str
    secrets: Path

    @classmethod
    def of(cls, settings: Settings) -> LocalProvider:
        assert settings.oidc_issuer, "the test command sets up the provider"
        assert settings.oidc_clients_file is not None
        return cls(
            url=settings.oidc_issuer.split("/api/")[0],
            issuer=settings.oidc_issuer,
            secrets=Path(settings.oidc_clients_file).parent,
        )

    def client_id(self, service: str) -> str:
        clients = json.loads((self.secrets / "clients.json").read_text(encoding="utf-8"))
        return str(clients[service]["client_id"])

    async def new_person(
        self, *, name: str = "Test Person", email: str | None = None, enabled: bool = True
    ) -> Person:
        username = f"t-{secrets.token_hex(4)}"
        person = new_person(username, name, "none", None)
        if email is not None:
            person = replace(person, email=email)
        password = (self.secrets / "admin-password").read_text(encoding="utf-8")

        def create() -> None:
            with httpx.Client(timeout=30.0) as http:
                admin = GlewlwydAdmin.signed_in(self.url, password, http=http)
                admin.ensure_person(person, enabled=enabled)

        await asyncio.to_thread(create)
        return person

    async def new_machine_client(self, organisation: str = "") -> MachineClient:
        """A partner's case system, registered at the provider (client credentials)."""
        machine = MachineClient(
            client_id=f"cms-{secrets.token_hex(4)}",
            client_secret=secrets.token_urlsafe(24),
            organisation=organisation,
        )
        password = (self.secrets / "admin-password").read_text(encoding="utf-8")

        def create() -> None:
            with httpx.Client(timeout=30.0) as http:
                GlewlwydAdmin.signed_in(self.url, password, http=http).ensure_machine_client(
                    machine
                )

        await asyncio.to_thread(create)
        return machine

    async def client_token(self, machine: MachineClient, *, scope: str = API_SCOPE) -> str:
        """The access token the provider gives ``machine`` for ``scope``."""
        async with httpx.AsyncClient(timeout=30.0) as http:
            answer = await http.post(
                f"{self.issuer}/token",
                data={"grant_type": "client_credentials", "scope": scope},
                auth=(machine.client_id, machine.client_secret),
            )
        if answer.status_code != 200:
            raise ProviderRefused(f"client credentials: HTTP {answer.status_code}")
        token: str = answer.json()["access_token"]
        return token


async def sign_in_to(
    service: httpx.AsyncClient,
    name: str,
    provider: LocalProvider,
    person: Person,
    *,
    codes: Codes,
    next_path: str = "/auth/me",
) -> httpx.Response:
    """A browser's round trip to a service's pages (``service`` keeps its cookies): the
    service's sign-in, the provider, and the service's answer at its callback."""
    started = await service.get("/auth/sign-in", params={"next": next_path})
    assert started.status_code == 303, started.text
    back = await sign_in_at_provider(
        provider.url,
        person,
        started.headers["location"],
        codes=codes,
        client_id=provider.client_id(name),
    )
    return await service.get("/auth/callback", params=back)


async def session_at(app: Any, *, person_id: str, subject: str) -> tuple[str, str]:
    """A session at ``app`` for a directory person, opened as the sign-in opens one once the
    provider has vouched for ``subject`` (the provider's part is proven by the sign-in tests):
    the session id for the cookie, and its CSRF token."""
    sessions = app.state.web_sign_in.sessions
    session_id: str = await sessions.open(person_id=person_id, subject=subject, id_token="")
    session = await sessions.current(session_id)
    assert session is not None
    return session_id, session.csrf_token


async def heard_of(settings: Settings, service: str, person_id: str) -> None:
    """Wait until ``service``'s copy of the directory holds the person (intake's event about
    them has arrived)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value(), tz_aware=True
    )
    copy = client[settings.database_name(service)][COPY]

    async def held() -> bool | None:
        return await copy.count_documents({"_id": person_id}, limit=1) == 1 or None

    try:
        await eventually(held, within=30, what=f"{service} hears of {person_id}")
    finally:
        await client.close()
