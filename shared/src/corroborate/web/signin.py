"""Signing a person in to one service's pages, and knowing them on every request after.

The provider says who signed in and how (``corroborate.oidc``); the directory says whether
Corroborate knows them, in which organisation and roles, and whether they are still active
(``Directory``); the session store keeps them signed in (``corroborate.web.sessions``). A
person the provider signed in but the directory does not know or has deactivated is refused
and gets no session; one deactivated later loses every session at their next request.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from corroborate.auth import Role
from corroborate.oidc import (
    ONE_FACTOR_ONLY,
    RelyingParty,
    SecondFactorMissing,
    SignedIn,
    SignInFailed,
)
from corroborate.web.sessions import Sessions, WebSession


@dataclass(frozen=True)
class Member:
    """A person as the directory knows them."""

    person_id: str
    name: str
    email: str
    roles: tuple[Role, ...]
    organisation: str | None
    organisation_name: str | None
    active: bool
    subject: str | None = None
    """The provider's subject the directory has bound them to (None while invited)."""


class Directory(Protocol):
    async def admit(self, signed_in: SignedIn) -> Member | None:
        """The member the provider's ``signed_in`` is, binding an open invitation to the
        provider's subject at a first sign-in; None if unknown or inactive."""
        ...

    async def member(self, person_id: str) -> Member | None:
        """The member as the directory knows them now; None if gone."""
        ...


class NotAdmitted(SignInFailed):
    """Signed in at the provider, but not someone this service's directory admits."""


class BadCsrfToken(Exception):
    """A state-changing form came without this session's CSRF token."""


@dataclass(frozen=True)
class Visitor:
    session_id: str
    session: WebSession
    member: Member


def safe_next(path: str | None, default: str) -> str:
    """Where to go after signing in: a path on this service only (no open redirect)."""
    if not path:
        return default
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or not path.startswith("/") or path.startswith("//"):
        return default
    return path


class WebSignIn:
    def __init__(
        self,
        *,
        relying_party: RelyingParty,
        sessions: Sessions,
        directory: Directory,
        one_factor_roles: frozenset[Role] = frozenset(),
    ) -> None:
        self.relying_party = relying_party
        self.sessions = sessions
        self.directory = directory
        self.one_factor_roles = one_factor_roles

    async def begin(self, next_path: str, *, fresh: bool = False) -> tuple[str, str]:
        """Where to send the browser, and the token of the sign-in in flight for its cookie.
        ``fresh``: the provider must ask for the person's credentials again (``prompt=login``),
        even if its own session is still open."""
        begun = await self.relying_party.begin(prompt="login" if fresh else None)
        return begun.url, await self.sessions.remember_sign_in(begun, next_path)

    async def complete(self, *, pending: str | None, code: str, state: str) -> tuple[str, str]:
        """The browser came back: the new session's id and where to send the browser."""
        taken = await self.sessions.take_sign_in(pending) if pending else None
        if taken is None:
            raise SignInFailed("this sign-in has expired or was already used; please sign in again")
        signed_in = await self.relying_party.finish(code=code, state=state, begun=taken.begun)
        member = await self.directory.admit(signed_in)
        if member is None or not member.active:
            raise NotAdmitted(
                "you signed in, but Corroborate does not know you, or your access has ended: "
                "ask your administrator to add you"
            )
        if not signed_in.second_factor and not set(member.roles) <= self.one_factor_roles:
            raise SecondFactorMissing(ONE_FACTOR_ONLY)
        session_id = await self.sessions.open(
            person_id=member.person_id, subject=signed_in.subject, id_token=signed_in.id_token
        )
        return session_id, taken.next_path

    async def visitor(self, session_id: str | None) -> Visitor | None:
        """Who holds ``session_id`` now; None (and every session of theirs ended) if the
        directory no longer admits them."""
        if not session_id:
            return None
        session = await self.sessions.current(session_id)
        if session is None:
            return None
        member = await self.directory.member(session.person_id)
        if member is None or not member.active or member.subject not in (None, session.subject):
            await self.sessions.close_all(session.person_id)
            return None
        return Visitor(session_id=session_id, session=session, member=member)

    def check_csrf(self, visitor: Visitor, token: str | None) -> None:
        expected = visitor.session.csrf_token.encode()
        if not token or not hmac.compare_digest(token.encode(), expected):
            raise BadCsrfToken

    async def sign_out(self, visitor: Visitor, *, after: str) -> str | None:
        """End the session here, and the URL that ends the provider's too (if it has one)."""
        await self.sessions.close(visitor.session_id)
        metadata = await self.relying_party.metadata()
        return self.relying_party.end_session_url(
            metadata, id_token=visitor.session.id_token, after=after
        )
