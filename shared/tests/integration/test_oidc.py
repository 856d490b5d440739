"""Signing in through the real OpenID Connect provider (Glewlwyd, started by the test command):
the code flow with PKCE, the ID token's checks, and each way a sign-in must fail."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from corroborate.oidc import ClientSettings, RelyingParty, SecondFactorMissing, SignInFailed
from corroborate.provider import Person, totp
from corroborate.settings import Settings
from corroborate_testing.identity import Codes, ProviderRefused, sign_in_at_provider

pytestmark = pytest.mark.integration

CODES = Codes()


@dataclass(frozen=True)
class Provider:
    url: str
    issuer: str
    clients: dict[str, dict[str, Any]]
    people: dict[str, Person]

    def settings(self, service: str, **changes: Any) -> ClientSettings:
        client = self.clients[service]
        return ClientSettings(
            issuer=changes.pop("issuer", self.issuer),
            client_id=client["client_id"],
            client_secret=changes.pop("client_secret", client["client_secret"]),
            redirect_uri=client["redirect_uris"][0],
            **changes,
        )


@pytest.fixture(scope="module")
def provider(settings: Settings) -> Provider:
    assert settings.oidc_issuer, "the test command sets up the provider"
    assert settings.oidc_clients_file is not None
    secrets_dir = Path(settings.oidc_clients_file).parent
    people = json.loads((secrets_dir / "people.json").read_text(encoding="utf-8"))
    return Provider(
        url=settings.oidc_issuer.split("/api/")[0],
        issuer=settings.oidc_issuer,
        clients=json.loads(settings.oidc_clients_file.read_text(encoding="utf-8")),
        people={p["username"]: Person(**p) for p in people},
    )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30.0) as client:
        yield client


async def _signed_in(
    provider: Provider, rp: RelyingParty, username: str, **sign_in: Any
) -> tuple[Any, dict[str, str]]:
    begun = await rp.begin()
    back = await sign_in_at_provider(
        provider.url,
        provider.people[username],
        begun.url,
        codes=CODES,
        client_id=rp.settings.client_id,
        scope=" ".join(rp.settings.scopes),
        **sign_in,
    )
    return begun, back


async def test_a_person_signs_in_with_password_and_code(
    provider: Provider, http: httpx.AsyncClient
) -> None:
    rp = RelyingParty(provider.settings("intake"), http)
    metadata = await rp.metadata()
    discovery = (await http.get(f"{provider.issuer}/.well-known/openid-configuration")).json()
    assert discovery["require_code_challenge"] is True
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert metadata.end_session_endpoint

    begun, back = await _signed_in(provider, rp, "sol-a1")
    signed = await rp.finish(code=back["code"], state=back["state"], begun=begun)

    assert signed.email == "sol-a1@corroborate.test"
    assert signed.name == "Amira Haddad"
    assert "otp" in signed.amr
    assert "password" in signed.amr
    assert signed.subject
    assert signed.subject != "sol-a1"
    assert signed.claims["aud"] == provider.clients["intake"]["client_id"]


async def test_a_code_is_exchanged_once(provider: Provider, http: httpx.AsyncClient) -> None:
    rp = RelyingParty(provider.settings("intake"), http)
    begun, back = await _signed_in(provider, rp, "sol-a2")
    await rp.finish(code=back["code"], state=back["state"], begun=begun)

    with pytest.raises(SignInFailed, match="refused the request"):
        await rp.finish(code=back["code"], state=back["state"], begun=begun)


async def test_a_forged_state_is_refused_before_the_code_is_used(
    provider: Provider, http: httpx.AsyncClient
) -> None:
    rp = RelyingParty(provider.settings("intake"), http)
    begun, back = await _signed_in(provider, rp, "sol-b1")

    with pytest.raises(SignInFailed, match="state this browser did not start"):
        await rp.finish(code=back["code"], state="forged-" + back["state"], begun=begun)
    # The code was not spent by the refused attempt: the rightful return still signs in.
    assert (await rp.finish(code=back["code"], state=back["state"], begun=begun)).email


async def test_a_code_from_another_sign_in_fails_its_pkce_and_nonce(
    provider: Provider, http: httpx.AsyncClient
) -> None:
    rp = RelyingParty(provider.settings("intake"), http)
    first = await rp.begin()
    begun, back = await _signed_in(provider, rp, "sol-b2")

    # An attacker's code injected into another browser's sign-in: that sign-in's verifier
    # does not match the challenge the code was issued for.
    with pytest.raises(SignInFailed):
        await rp.finish(code=back["code"], state=first.state, begun=first)
    assert begun.state != first.state


async def test_a_wrong_code_is_refused_by_the_provider(provider: Provider) -> None:
    person = provider.people["coordinator"]
    wrong = str((int(totp(person.totp_secret)) + 1) % 1_000_000).zfill(6)
    async with httpx.AsyncClient() as http:
        rp = RelyingParty(provider.settings("review"), http)
        begun = await rp.begin()
    with pytest.raises(ProviderRefused, match="TOTP code"):
        await sign_in_at_provider(
            provider.url,
            person,
            begun.url,
            codes=CODES,
            client_id=rp.settings.client_id,
            code=wrong,
        )


async def test_a_password_only_sign_in_gets_no_code_for_corroborate(
    provider: Provider, http: httpx.AsyncClient
) -> None:
    rp = RelyingParty(provider.settings("review"), http)
    with pytest.raises(ProviderRefused, match="authorization"):
        await _signed_in(provider, rp, "dr-clinician-1", second_factor=False)


async def test_an_id_token_without_a_second_factor_is_refused(
    provider: Provider, http: httpx.AsyncClient
) -> None:
    # ``openid`` alone needs only a password at this provider: the token says so in ``amr``,
    # and the relying party refuses it.
    rp = RelyingParty(provider.settings("review", scopes=("openid",)), http)
    begun, back = await _signed_in(provider, rp, "dr-clinician-2", second_factor=False)

    with pytest.raises(SecondFactorMissing, match="second factor"):
        await rp.finish(code=back["code"], state=back["state"], begun=begun)


async def test_an_id_token_for_another_service_is_refused(
    provider: Provider, http: httpx.AsyncClient
) -> None:
    reporting = RelyingParty(provider.settings("reporting"), http)
    begun, back = await _signed_in(provider, reporting, "legal")
    signed = await reporting.finish(code=back["code"], state=back["state"], begun=begun)

    intake = RelyingParty(provider.settings("intake"), http)
    with pytest.raises(SignInFailed, match=r"(?i)audience"):
        await intake.verify(signed.id_token, nonce=begun.nonce)
    with pytest.raises(SignInFailed, match="nonce"):
        await reporting.verify(signed.id_token, nonce="another sign-in's nonce")


async def test_an_id_token_from_another_issuer_or_key_is_refused(
    provider: Provider, http: httpx.AsyncClient
) -> None:
    rp = RelyingParty(provider.settings("intake"), http)
    metadata = await rp.metadata()
    client_id = provider.clients["intake"]["client_id"]
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {"iss": provider.issuer, "sub": "x", "aud": client_id, "nonce": "n"}
    claims |= {"iat": 2_000_000_000 - 60, "exp": 2_000_000_000}
    forged = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "stranger"})
    with pytest.raises(SignInFailed, match="key the provider does not publish"):
        await rp.verify(forged, nonce="n")

    elsewhere = RelyingParty(provider.settings("intake", issuer=f"{provider.url}/api/other"), http)
    with pytest.raises(SignInFailed):
        await elsewhere.metadata()
    assert metadata.issuer == provider.issuer


async def test_a_wrong_client_secret_cannot_exchange_a_code(
    provider: Provider, http: httpx.AsyncClient
) -> None:
    rp = RelyingParty(provider.settings("intake"), http)
    begun, back = await _signed_in(provider, rp, "analyst")
    impostor = RelyingParty(provider.settings("intake", client_secret="not-the-secret"), http)

    with pytest.raises(SignInFailed, match="refused"):
        await impostor.finish(code=back["code"], state=back["state"], begun=begun)
