"""Bearer tokens: who is calling, in which role, for which organisation.

Tokens are JWTs signed with an asymmetric key (Ed25519) that only the issuer holds; every
service verifies them with the public key from settings. An OIDC provider's JWKS can replace
the configured key without changing the claims the services read.
"""

from __future__ import annotations

import time
import uuid
from enum import StrEnum
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ALGORITHM = "EdDSA"
SERVICE_AUDIENCES = {
    "intake": "corroborate-intake",
    "review": "corroborate-review",
    "reporting": "corroborate-reporting",
}


class Role(StrEnum):
    PARTNER = "partner"
    COORDINATOR = "coordinator"
    CLINICIAN = "clinician"
    SENIOR_CLINICIAN = "senior_clinician"
    LEGAL = "legal"
    ANALYST = "analyst"
    MANAGER = "manager"
    ADMIN = "admin"


class Principal(BaseModel):
    """The verified caller."""

    model_config = ConfigDict(frozen=True)

    subject: Annotated[str, Field(min_length=1, max_length=200)]
    role: Role
    organisation: str | None = None
    name: Annotated[str, Field(max_length=200)] | None = None  # as shown on a report
    roles: tuple[Role, ...] = ()
    """Every role the caller holds, where they hold several (a person signed in with the
    directory's roles); a token carries one, ``role``."""

    @property
    def display_name(self) -> str:
        return self.name or self.subject

    def acting_as(self, allowed: frozenset[Role]) -> Principal | None:
        """The caller in a role ``allowed`` admits: their own, or the first of their other
        roles that it admits; None if it admits none of them."""
        if self.role in allowed:
            return self
        for role in self.roles:
            if role in allowed:
                return self.model_copy(update={"role": role})
        return None

    @model_validator(mode="after")
    def _partners_belong_to_an_organisation(self) -> Principal:
        if self.role is Role.PARTNER and not self.organisation:
            raise ValueError("a partner token must name an organisation (claim 'org')")
        return self


class AuthenticationError(Exception):
    """The token is missing, malformed, expired, for another audience, or badly signed."""


class TokenVerifier:
    """Verifies tokens addressed to one service."""

    def __init__(self, *, public_key_pem: str, issuer: str, audience: str) -> None:
        self._key = serialization.load_pem_public_key(public_key_pem.encode())
        self._issuer = issuer
        self._audience = audience

    def verify(self, token: str) -> Principal:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=self._key,  # type: ignore[arg-type]
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss", "role"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationError(str(exc)) from exc
        try:
            return Principal(
                subject=claims["sub"],
                role=claims["role"],
                organisation=claims.get("org"),
                name=claims.get("name"),
            )
        except ValidationError as exc:
            raise AuthenticationError("token claims are not valid") from exc


def issue_token(
    *,
    private_key_pem: str,
    issuer: str,
    subject: str,
    role: Role,
    organisation: str | None = None,
    name: str | None = None,
    audiences: list[str] | None = None,
    ttl_seconds: int = 3600,
    now: float | None = None,
) -> str:
    """Sign a token; used by the local issuer (``corroborate token``) and by tests."""
    Principal(subject=subject, role=role, organisation=organisation, name=name)
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audiences or sorted(SERVICE_AUDIENCES.values()),
        "role": role.value,
        "iat": issued,
        "exp": issued + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }
    if organisation:
        claims["org"] = organisation
    if name:
        claims["name"] = name
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    return jwt.encode(claims, key, algorithm=ALGORITHM)  # type: ignore[arg-type]


def generate_keypair() -> tuple[str, str]:
    """A new Ed25519 issuer key pair as (private PEM, public PEM)."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem
