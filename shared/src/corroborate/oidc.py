"""Signing people in through an OpenID Connect provider: the relying party's side.

The authorization code flow with PKCE (S256), ``state`` and ``nonce``; the code exchanged at
the provider's token endpoint with the client's secret; the ID token checked for its issuer,
audience (and authorised party), expiry, nonce and signature, with the provider's keys read
from its JWKS and read again when a token names a key not seen before. A sign-in whose ID
token does not show a second factor is refused. Any provider that publishes a discovery
document works by configuration alone; the project never sees a password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

SECOND_FACTORS = frozenset({"otp", "mfa", "hwk", "swk"})
"""``amr`` values (RFC 8176) that show a second factor was used."""

SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
KEYS_REFETCH_SECONDS = 10.0
"""At most one JWKS fetch in this time for unknown keys, so forged kids cannot flood it."""


ONE_FACTOR_ONLY = (
    "you signed in with a password only; this service needs a second factor "
    "(a code from your authenticator app) as well"
)


class SignInFailed(Exception):
    """A sign-in that cannot be completed; ``reason`` is fit to show the person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SecondFactorMissing(SignInFailed):
    """The provider signed the person in with one factor only."""


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None = None

    @classmethod
    def read(cls, document: dict[str, Any], *, issuer: str) -> ProviderMetadata:
        if document.get("issuer") != issuer:
            raise SignInFailed(
                f"the provider's discovery document names issuer {document.get('issuer')!r}, "
                f"not {issuer!r}"
            )
        try:
            return cls(
                issuer=issuer,
                authorization_endpoint=document["authorization_endpoint"],
                token_endpoint=document["token_endpoint"],
                jwks_uri=document["jwks_uri"],
                end_session_endpoint=document.get("end_session_endpoint"),
            )
        except KeyError as exc:
            raise SignInFailed(f"the provider's discovery document lacks {exc}") from exc


@dataclass(frozen=True)
class AuthorizationRequest:
    """One sign-in begun: where to send the browser, and what to keep until it returns."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class SignedIn:
    """Who the provider says signed in, and how."""

    subject: str
    email: str | None
    name: str | None
    amr: tuple[str, ...]
    acr: str | None
    id_token: str
    claims: dict[str, Any] = field(repr=False)
    second_factor: bool = True
    """Whether the ID token shows a second factor (False only where one-factor sign-ins are
    allowed for some roles: the caller then decides by the person's roles)."""


@dataclass(frozen=True)
class ClientSettings:
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    second_factor_acr: frozenset[str] = frozenset()
    """``acr`` (or ``acrs``) values that show a second factor, for providers that say it so."""
    leeway_seconds: int = 30
    email_claim: str = "email"
    claims_request: str = ""
    """A claims request (JSON) sent with each authorization request, as is."""
    one_factor_allowed: bool = False
    """Return a one-factor sign-in (``second_factor=False``) rather than refuse it, for the
    caller to admit only people whose every role may sign in so."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def code_challenge(verifier: str) -> str:
    """PKCE S256 (RFC 7636): the challenge sent with the request for a code."""
    return _b64url(hashlib.sha256(verifier.encode()).digest())


class RelyingParty:
    """One client of one provider."""

    def __init__(
        self, settings: ClientSettings, http: httpx.AsyncClient, keys: ProviderKeys | None = None
    ) -> None:
        self.settings = settings
        self._http = http
        self.keys = keys or ProviderKeys(settings.issuer, http)

    async def metadata(self) -> ProviderMetadata:
        return await self.keys.metadata()

    async def begin(self, *, prompt: str | None = None) -> AuthorizationRequest:
        """A new sign-in: fresh ``state``, ``nonce`` and PKCE verifier."""
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        query = {
            "response_type": "code",
            "client_id": self.settings.client_id,
            "redirect_uri": self.settings.redirect_uri,
            "scope": " ".join(self.settings.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        if prompt is not None:
            query["prompt"] = prompt
        if self.settings.claims_request:
            query["claims"] = self.settings.claims_request
        endpoint = (await self.metadata()).authorization_endpoint
        return AuthorizationRequest(
            url=f"{endpoint}?{urlencode(query)}", state=state, nonce=nonce, code_verifier=verifier
        )

    async def finish(self, *, code: str, state: str, begun: AuthorizationRequest) -> SignedIn:
        """The browser came back with ``code`` and ``state``: exchange the code and check the
        ID token. Raises ``SignInFailed`` (or ``SecondFactorMissing``) with a reason."""
        if not hmac.compare_digest(state.encode(), begun.state.encode()):
            raise SignInFailed("the sign-in came back with a state this browser did not start")
        tokens = await self._json(
            "POST",
            (await self.metadata()).token_endpoint,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.settings.redirect_uri,
                "code_verifier": begun.code_verifier,
            },
            auth=(self.settings.client_id, self.settings.client_secret),
        )
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("the provider answered without an ID token")
        claims = await self.verify(id_token, nonce=begun.nonce)
        return self._signed_in(id_token, claims)

    async def verify(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """The ID token's claims, once its signature, issuer, audience, expiry and nonce hold."""
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise SignInFailed("the ID token is not a signed JWT") from exc
        key = await self.keys.key(str(header.get("kid", "")))
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key=key,
                algorithms=list(SIGNING_ALGORITHMS),
                audience=self.settings.client_id,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.PyJWTError as exc:
            raise SignInFailed(f"the ID token was refused: {exc}") from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.settings.client_id:
            raise SignInFailed("the ID token was issued to another party (azp)")
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
            raise SignInFailed("the ID token does not carry this sign-in's nonce")
        return claims

    def end_session_url(
        self, metadata: ProviderMetadata, *, id_token: str | None, after: str
    ) -> str | None:
        """Where to send the browser so the provider ends its own session too (RP-initiated
        logout); None if the provider offers none."""
        if metadata.end_session_endpoint is None:
            return None
        query = {"post_logout_redirect_uri": after, "client_id": self.settings.client_id}
        if id_token:
            query["id_token_hint"] = id_token
        return f"{metadata.end_session_endpoint}?{urlencode(query)}"

    def _signed_in(self, id_token: str, claims: dict[str, Any]) -> SignedIn:
        amr = claims.get("amr") or []
        methods = tuple(str(m) for m in amr) if isinstance(amr, list) else (str(amr),)
        acr = str(claims["acr"]) if claims.get("acr") is not None else None
        # Microsoft Entra ID names the authentication contexts met in ``acrs`` instead.
        acrs = claims.get("acrs")
        contexts = {str(a) for a in acrs} if isinstance(acrs, list) else set()
        second = has_second_factor(methods, acr, self.settings.second_factor_acr) or bool(
            contexts & self.settings.second_factor_acr
        )
        if not second and not self.settings.one_factor_allowed:
            raise SecondFactorMissing(ONE_FACTOR_ONLY)
        return SignedIn(
            subject=str(claims["sub"]),
            email=_text(claims.get(self.settings.email_claim)),
            name=_text(claims.get("name")),
            amr=methods,
            acr=acr,
            id_token=id_token,
            claims=claims,
            second_factor=second,
        )

    async def _json(self, method: str, url: str, **request: Any) -> dict[str, Any]:
        return await _json(self._http, method, url, **request)


class ProviderKeys:
    """A provider's discovery document and signing keys, read once and the keys read again
    when a token names one not seen before (at most once in ``KEYS_REFETCH_SECONDS``)."""

    def __init__(self, issuer: str, http: httpx.AsyncClient) -> None:
        self.issuer = issuer
        self._http = http
        self._metadata: ProviderMetadata | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._keys_read_at = -KEYS_REFETCH_SECONDS

    async def metadata(self) -> ProviderMetadata:
        if self._metadata is None:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            self._metadata = ProviderMetadata.read(
                await _json(self._http, "GET", url), issuer=self.issuer
            )
        return self._metadata

    async def key(self, kid: str) -> jwt.PyJWK:
        if kid not in self._keys and time.monotonic() - self._keys_read_at >= KEYS_REFETCH_SECONDS:
            document = await _json(self._http, "GET", (await self.metadata()).jwks_uri)
            self._keys = {
                str(k.key_id): k
                for k in jwt.PyJWKSet.from_dict(document).keys
                if k.public_key_use in (None, "sig")
            }
            self._keys_read_at = time.monotonic()
        if kid not in self._keys:
            raise SignInFailed("the token is signed with a key the provider does not publish")
        return self._keys[kid]


async def _json(http: httpx.AsyncClient, method: str, url: str, **request: Any) -> dict[str, Any]:
    try:
        response = await http.request(method, url, **request)
    except httpx.HTTPError as exc:
        raise SignInFailed("the sign-in service cannot be reached; try again shortly") from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        raise SignInFailed(
            f"the sign-in service refused the request ({error or response.status_code})"
        )
    return body


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def has_second_factor(amr: Collection[str], acr: str | None, accepted_acr: Collection[str]) -> bool:
    return bool(SECOND_FACTORS & set(amr)) or (acr is not None and acr in accepted_acr)
