"""Access tokens a partner's own system gets from the identity provider with OAuth 2 client
credentials, checked as a resource server checks them (RFC 9068): signed by a key in the
provider's JWKS, from its issuer, addressed to Corroborate's API (``aud``), unexpired, and
carrying the API's scope (in ``scope``, ``scp`` or ``roles``, as providers differ). The client
is named by ``client_id`` (or ``azp``); which organisation it acts for is the directory's to
say, never the token's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt

from corroborate.auth import AuthenticationError, Principal
from corroborate.oidc import SIGNING_ALGORITHMS, ProviderKeys, SignInFailed


class AccessTokenRefused(Exception):
    """Not a usable access token from the provider; the message says why."""


@dataclass(frozen=True)
class ApiClient:
    """A machine client the provider vouches for."""

    client_id: str
    scopes: frozenset[str]


def _granted(claims: dict[str, Any]) -> frozenset[str]:
    granted: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            granted |= set(value.split())
        elif isinstance(value, list):
            granted |= {str(v) for v in value}
    roles = claims.get("roles")
    if isinstance(roles, list):
        granted |= {str(r) for r in roles}
    return frozenset(granted)


class AccessTokens:
    """Checks access tokens from one provider for one API."""

    def __init__(
        self, keys: ProviderKeys, *, audience: str, scope: str, leeway_seconds: int = 30
    ) -> None:
        self._keys = keys
        self._audience = audience
        self._scope = scope
        self._leeway = leeway_seconds

    def from_this_provider(self, token: str) -> bool:
        """Whether ``token`` claims to come from this provider (unverified: only to choose
        which check applies)."""
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return False
        return isinstance(claims, dict) and bool(claims.get("iss") == self._keys.issuer)

    async def verify(self, token: str) -> ApiClient:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AccessTokenRefused("not a signed JWT") from exc
        try:
            key = await self._keys.key(str(header.get("kid", "")))
        except SignInFailed as exc:
            raise AccessTokenRefused(exc.reason) from exc
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=list(SIGNING_ALGORITHMS),
                audience=self._audience,
                issuer=self._keys.issuer,
                leeway=self._leeway,
                options={"require": ["iss", "aud", "exp"]},
            )
        except jwt.InvalidAudienceError as exc:
            raise AccessTokenRefused("the token is not addressed to this API (aud)") from exc
        except jwt.ExpiredSignatureError as exc:
            raise AccessTokenRefused("the token has expired") from exc
        except jwt.InvalidIssuerError as exc:
            raise AccessTokenRefused("the token is from another issuer") from exc
        except jwt.PyJWTError as exc:
            raise AccessTokenRefused(f"the token was refused: {exc}") from exc
        client_id = claims.get("client_id") or claims.get("azp")
        if not isinstance(client_id, str) or not client_id:
            raise AccessTokenRefused("the token names no client (client_id or azp)")
        granted = _granted(claims)
        if self._scope and self._scope not in granted:
            raise AccessTokenRefused(f"the token does not grant the scope {self._scope!r}")
        return ApiClient(client_id=client_id, scopes=granted)


class MachineCallers:
    """``corroborate.http.ProviderCaller`` for a service that takes partners' systems: the
    token checked here, the caller it acts as from ``callers`` (the directory's answer for the
    client id)."""

    def __init__(
        self, tokens: AccessTokens, callers: Callable[[str], Awaitable[Principal | None]]
    ) -> None:
        self._tokens = tokens
        self._callers = callers

    def handles(self, token: str) -> bool:
        return self._tokens.from_this_provider(token)

    async def caller(self, token: str) -> Principal:
        try:
            client = await self._tokens.verify(token)
        except AccessTokenRefused as exc:
            raise AuthenticationError(str(exc)) from exc
        principal = await self._callers(client.client_id)
        if principal is None:
            raise AuthenticationError(
                f"client {client.client_id!r} acts for no active organisation here: "
                "an administrator registers it in the directory"
            )
        return principal
