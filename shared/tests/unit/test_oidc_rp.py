"""The relying party's checks that need a provider to misbehave: rotated keys, a second
audience without ``azp``, expired tokens, the second-factor rule; and the TOTP codes the demo
people are given, against RFC 6238's own test vector."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from corroborate.access_tokens import AccessTokenRefused, AccessTokens
from corroborate.oidc import (
    ClientSettings,
    ProviderKeys,
    RelyingParty,
    SecondFactorMissing,
    SignInFailed,
)
from corroborate.provider import totp

ISSUER = "https://id.example.org"


class FakeProvider:
    """Discovery and a JWKS whose keys a test can rotate; counts JWKS reads."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.jwks_reads = 0
        self.rotate()

    def rotate(self) -> str:
        kid = f"k{len(self.keys) + 1}"
        self.keys = {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048)}
        return kid

    def sign(self, **claims: Any) -> str:
        ((kid, key),) = self.keys.items()
        now = int(time.time())
        body = {"iss": ISSUER, "sub": "s1", "aud": "rp", "iat": now, "exp": now + 300}
        body |= {"nonce": "n", "amr": ["pwd", "otp"]} | claims
        return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/auth",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/jwks",
                },
            )
        self.jwks_reads += 1
        keys = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            keys.append(jwk | {"kid": kid, "use": "sig", "alg": "RS256"})
        return httpx.Response(200, json={"keys": keys})


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


def _rp(provider: FakeProvider, **settings: Any) -> RelyingParty:
    http = httpx.AsyncClient(transport=httpx.MockTransport(provider.handle))
    return RelyingParty(
        ClientSettings(
            issuer=ISSUER, client_id="rp", client_secret="s", redirect_uri="x", **settings
        ),
        http,
    )


async def test_a_rotated_key_is_fetched_when_a_token_names_it(
    provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    rp = _rp(provider)
    assert (await rp.verify(provider.sign(), nonce="n"))["sub"] == "s1"
    assert provider.jwks_reads == 1
    await rp.verify(provider.sign(), nonce="n")
    assert provider.jwks_reads == 1  # a known key is not fetched again

    provider.rotate()
    monkeypatch.setattr("corroborate.oidc.KEYS_REFETCH_SECONDS", 0.0)
    assert (await rp.verify(provider.sign(), nonce="n"))["sub"] == "s1"
    assert provider.jwks_reads == 2


async def test_unknown_keys_do_not_make_it_fetch_the_jwks_on_every_token(
    provider: FakeProvider,
) -> None:
    rp = _rp(provider)
    await rp.verify(provider.sign(), nonce="n")
    provider.rotate()
    for _ in range(5):
        with pytest.raises(SignInFailed, match="does not publish"):
            await rp.verify(provider.sign(), nonce="n")
    assert provider.jwks_reads == 1


async def test_expired_tokens_and_a_second_audience_without_azp_are_refused(
    provider: FakeProvider,
) -> None:
    rp = _rp(provider)
    with pytest.raises(SignInFailed, match="expired"):
        await rp.verify(provider.sign(exp=int(time.time()) - 120), nonce="n")
    with pytest.raises(SignInFailed, match="azp"):
        await rp.verify(provider.sign(aud=["rp", "other"]), nonce="n")
    assert await rp.verify(provider.sign(aud=["rp", "other"], azp="rp"), nonce="n")


@pytest.mark.parametrize(
    ("amr", "acr", "accepted"),
    [
        (["pwd", "otp"], None, True),
        (["pwd", "hwk"], None, True),
        (["mfa"], None, True),
        (["pwd"], None, False),
        (["pwd"], "urn:example:mfa", True),
        (["pwd"], "urn:example:weak", False),
        ([], None, False),
    ],
)
def test_a_second_factor_is_shown_by_amr_or_a_configured_acr(
    provider: FakeProvider, amr: list[str], acr: str | None, accepted: bool
) -> None:
    rp = _rp(provider, second_factor_acr=frozenset({"urn:example:mfa"}))
    claims = {"sub": "s1", "amr": amr} | ({"acr": acr} if acr else {})
    if accepted:
        assert rp._signed_in("t", claims).subject == "s1"
    else:
        with pytest.raises(SecondFactorMissing):
            rp._signed_in("t", claims)


def test_entra_ids_authentication_contexts_count_when_configured(provider: FakeProvider) -> None:
    rp = _rp(provider, second_factor_acr=frozenset({"c1"}))
    assert rp._signed_in("t", {"sub": "s1", "amr": [], "acrs": ["c1"]}).second_factor
    with pytest.raises(SecondFactorMissing):
        rp._signed_in("t", {"sub": "s1", "amr": [], "acrs": ["c2"]})


def test_a_one_factor_sign_in_is_returned_marked_where_some_roles_may_use_one(
    provider: FakeProvider,
) -> None:
    rp = _rp(provider, one_factor_allowed=True)
    signed_in = rp._signed_in("t", {"sub": "s1", "amr": ["pwd"]})
    assert signed_in.second_factor is False


def test_the_email_comes_from_the_configured_claim(provider: FakeProvider) -> None:
    rp = _rp(provider, email_claim="preferred_username")
    claims = {"sub": "s1", "email": "old@x.org", "preferred_username": "dr.lee@clinic.org"}
    assert rp._signed_in("t", claims | {"amr": ["otp"]}).email == "dr.lee@clinic.org"


async def test_a_claims_request_is_sent_with_each_sign_in(provider: FakeProvider) -> None:
    claims = '{"id_token":{"acrs":{"essential":true,"value":"c1"}}}'
    begun = await _rp(provider, claims_request=claims).begin()
    assert httpx.URL(begun.url).params["claims"] == claims


def test_totp_codes_match_rfc_6238() -> None:
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of "12345678901234567890"
    assert totp(secret, at=59, digits=8) == "94287082"
    assert totp(secret, at=1111111109, digits=8) == "07081804"
    assert totp(secret, at=20000000000, digits=8) == "65353130"


def _access_tokens(provider: FakeProvider, scope: str = "corroborate-api") -> AccessTokens:
    http = httpx.AsyncClient(transport=httpx.MockTransport(provider.handle))
    return AccessTokens(ProviderKeys(ISSUER, http), audience="corroborate-api", scope=scope)


async def test_a_client_credentials_token_names_its_client(provider: FakeProvider) -> None:
    tokens = _access_tokens(provider)
    token = provider.sign(aud="corroborate-api", client_id="cms-1", scope="corroborate-api")

    assert tokens.from_this_provider(token)
    client = await tokens.verify(token)

    assert client.client_id == "cms-1"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "rp", "client_id": "cms-1", "scope": "corroborate-api"}, "not addressed"),
        ({"aud": "corroborate-api", "client_id": "cms-1", "scope": "other"}, "scope"),
        ({"aud": "corroborate-api", "scope": "corroborate-api"}, "names no client"),
        (
            {"aud": "corroborate-api", "client_id": "c", "scope": "corroborate-api", "exp": 1},
            "expired",
        ),
        (
            {"aud": "corroborate-api", "client_id": "c", "iss": "https://evil.example"},
            "another issuer",
        ),
    ],
)
async def test_an_access_token_not_for_this_api_is_refused(
    provider: FakeProvider, claims: dict[str, Any], reason: str
) -> None:
    with pytest.raises(AccessTokenRefused, match=reason):
        await _access_tokens(provider).verify(provider.sign(**claims))


async def test_entra_app_roles_carry_the_api_permission(provider: FakeProvider) -> None:
    tokens = _access_tokens(provider, scope="Referrals.Submit")
    token = provider.sign(aud="corroborate-api", azp="partner-app", roles=["Referrals.Submit"])

    assert (await tokens.verify(token)).client_id == "partner-app"
