"""Bearer tokens: only the issuer's key, this service's audience and a known role get in."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from corroborate.auth import (
    SERVICE_AUDIENCES,
    AuthenticationError,
    Role,
    TokenVerifier,
    generate_keypair,
    issue_token,
)
from corroborate.settings import Settings

ISSUER = "corroborate-test-issuer"
KEYS = generate_keypair()
PRIVATE, PUBLIC = KEYS


def verifier(service: str = "review", *, public_key: str = PUBLIC) -> TokenVerifier:
    return TokenVerifier(
        public_key_pem=public_key, issuer=ISSUER, audience=SERVICE_AUDIENCES[service]
    )


def token(role: Role = Role.CLINICIAN, **options: Any) -> str:
    fields: dict[str, Any] = {
        "private_key_pem": PRIVATE,
        "issuer": ISSUER,
        "subject": "dr-1",
        "role": role,
    } | options
    return issue_token(**fields)


def signed(claims: dict[str, Any], *, private_key: str = PRIVATE) -> str:
    """A token with these claims (``None`` removes one): shapes ``issue_token`` never makes."""
    now = int(time.time())
    base = {"iss": ISSUER, "sub": "x", "aud": ["corroborate-review"], "iat": now, "exp": now + 60}
    payload = {name: value for name, value in (base | claims).items() if value is not None}
    key = serialization.load_pem_private_key(private_key.encode(), password=None)
    return jwt.encode(payload, key, algorithm="EdDSA")  # type: ignore[arg-type]


def test_issued_token_verifies_as_its_caller() -> None:
    principal = verifier().verify(token(Role.PARTNER, subject="caseworker-7", organisation="a"))
    assert principal.subject == "caseworker-7"
    assert principal.role is Role.PARTNER
    assert principal.organisation == "a"


@pytest.mark.parametrize("service", sorted(SERVICE_AUDIENCES))
def test_default_token_is_accepted_by_every_service(service: str) -> None:
    assert verifier(service).verify(token()).role is Role.CLINICIAN


def test_token_signed_by_the_configured_issuer_verifies(
    settings: Settings, make_token: Callable[..., str]
) -> None:
    configured = TokenVerifier(
        public_key_pem=settings.public_key_pem,
        issuer=settings.auth_issuer,
        audience=SERVICE_AUDIENCES["intake"],
    )
    principal = configured.verify(make_token(Role.COORDINATOR, sub="coord-1"))
    assert (principal.subject, principal.role) == ("coord-1", Role.COORDINATOR)


REJECTED: dict[str, Callable[[], str]] = {
    "expired": lambda: token(now=time.time() - 7200, ttl_seconds=60),
    "for another service": lambda: token(audiences=[SERVICE_AUDIENCES["intake"]]),
    "from another issuer": lambda: token(issuer="someone-else"),
    "signed with another key": lambda: token(private_key_pem=generate_keypair()[0]),
    "without a role": lambda: signed({}),
    "with an unknown role": lambda: signed({"role": "superuser"}),
    "partner without organisation": lambda: signed({"role": "partner"}),
    "partner with empty organisation": lambda: signed({"role": "partner", "org": ""}),
    "without expiry": lambda: signed({"role": "clinician", "exp": None}),
    "unsigned (alg none)": lambda: jwt.encode(
        {"iss": ISSUER, "sub": "x", "aud": "corroborate-review", "role": "admin"},
        key="",
        algorithm="none",
    ),
    "garbage": lambda: "not-a-token",
}


@pytest.mark.parametrize("case", list(REJECTED), ids=list(REJECTED))
def test_bad_token_raises_authentication_error(case: str) -> None:
    bad = REJECTED[case]()
    with pytest.raises(AuthenticationError):
        verifier().verify(bad)


def test_rejection_says_why() -> None:
    with pytest.raises(AuthenticationError, match="expired"):
        verifier().verify(token(now=time.time() - 7200, ttl_seconds=60))
    with pytest.raises(AuthenticationError, match=r"[Aa]udience"):
        verifier().verify(token(audiences=[SERVICE_AUDIENCES["intake"]]))


def test_partner_token_without_organisation_is_never_issued() -> None:
    with pytest.raises(ValueError, match="organisation"):
        token(Role.PARTNER)


def test_generated_keypair_signs_and_verifies() -> None:
    private, public = generate_keypair()
    assert private.startswith("-----BEGIN PRIVATE KEY-----")
    assert verifier(public_key=public).verify(token(private_key_pem=private)).subject == "dr-1"
