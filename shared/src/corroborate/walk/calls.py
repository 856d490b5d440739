"""How a walk's steps reach a service, and how it waits for something to appear.

A step names what it does ("partner submits") and calls an ``Endpoint``: ``DirectHttp`` sends
each request once and fails the step on any answer it did not expect, as the demo and the
benchmark want; a patient caller (the fault suite's) retries through outages and, when an
outcome is unknown, asks the step's ``done`` check before sending a change again.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from corroborate.auth import Role, issue_token
from corroborate.settings import Settings

Headers = dict[str, str]
Done = Callable[[], Awaitable[Any]]
"""A step's check that its change took effect: the effect if it did, else None."""

ABSENT: Any = object()
"""What ``Endpoint.read`` answers for a resource that is not there (yet)."""

NOT_THERE = frozenset({404})


class WalkFailed(Exception):
    """A step got an answer it cannot continue from, or nothing within its time."""


class Endpoint(Protocol):
    """One service as a walk's steps call it, by path."""

    async def read(self, path: str, *, headers: Headers, absent: frozenset[int] = NOT_THERE) -> Any:
        """GET JSON; ``ABSENT`` for a status in ``absent``."""
        ...

    async def change(
        self,
        step: str,
        method: str,
        path: str,
        *,
        headers: Headers,
        expect: Collection[int],
        done: Done | None = None,
        **request: Any,
    ) -> Any:
        """Send a change and give its JSON answer; ``done`` checks an unknown outcome."""
        ...

    async def fetch(self, step: str, url: str, *, headers: Headers) -> bytes:
        """GET the bytes at ``url`` (a link a service gave)."""
        ...


class DirectHttp:
    """Each request sent once; an unexpected answer or a failed connection fails the step."""

    def __init__(self, http: httpx.AsyncClient, base_url: str = "") -> None:
        self._http = http
        self._base = base_url

    async def read(self, path: str, *, headers: Headers, absent: frozenset[int] = NOT_THERE) -> Any:
        response = await self._send(f"GET {path}", "GET", self._base + path, headers=headers)
        if response.status_code in absent:
            return ABSENT
        return _answer(f"GET {path}", response, {200})

    async def change(
        self,
        step: str,
        method: str,
        path: str,
        *,
        headers: Headers,
        expect: Collection[int],
        done: Done | None = None,
        **request: Any,
    ) -> Any:
        del done  # one attempt: an outcome is never unknown, the step fails instead
        response = await self._send(step, method, self._base + path, headers=headers, **request)
        return _answer(step, response, expect)

    async def fetch(self, step: str, url: str, *, headers: Headers) -> bytes:
        response = await self._send(step, "GET", url, headers=headers)
        if response.status_code != 200:
            raise WalkFailed(f"{step}: HTTP {response.status_code}: {response.text[:300]}")
        return response.content

    async def _send(
        self, step: str, method: str, url: str, *, headers: Headers, **request: Any
    ) -> httpx.Response:
        try:
            return await self._http.request(method, url, headers=headers, **request)
        except httpx.HTTPError as exc:
            raise WalkFailed(f"{step}: no answer from {url} ({type(exc).__name__})") from exc


def _answer(step: str, response: httpx.Response, expect: Collection[int]) -> Any:
    if response.status_code not in expect:
        raise WalkFailed(f"{step}: HTTP {response.status_code}: {response.text[:500]}")
    return response.json() if response.content else None


@dataclass(frozen=True)
class Pace:
    """How long a walk waits for something to appear, and how often it looks."""

    within: float = 60.0
    every: float = 0.25
    jitter: float = 0.0
    """Each pause varies by up to this fraction, so many walkers do not look in step."""


async def until(what: str, probe: Callable[[], Awaitable[Any]], pace: Pace) -> Any:
    """Poll ``probe`` until it returns something other than None; ``WalkFailed`` after
    ``pace.within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + pace.within
    while True:
        result = await probe()
        if result is not None:
            return result
        if loop.time() > deadline:
            raise WalkFailed(f"{what}: not seen within {pace.within:.0f}s")
        spread = random.uniform(1 - pace.jitter, 1 + pace.jitter)  # noqa: S311 - not secrets
        await asyncio.sleep(pace.every * spread)


class Bearer:
    """Authorization headers for anyone, signed by the local issuer (``make up`` creates it)."""

    def __init__(self, settings: Settings, *, ttl_seconds: int = 3600) -> None:
        if settings.auth_private_key_file is None:
            raise WalkFailed("CORROBORATE_AUTH_PRIVATE_KEY_FILE is not set (run make up first)")
        self._key = settings.auth_private_key_file.read_text(encoding="utf-8")
        self._issuer = settings.auth_issuer
        self._ttl = ttl_seconds

    def __call__(
        self, role: Role, subject: str, *, organisation: str | None = None, name: str | None = None
    ) -> Headers:
        token = issue_token(
            private_key_pem=self._key,
            issuer=self._issuer,
            subject=subject,
            role=role,
            organisation=organisation,
            name=name,
            ttl_seconds=self._ttl,
        )
        return {"Authorization": f"Bearer {token}"}
