"""The second factor is configurable per role: where an organisation lets analysts sign in with
a password alone (``CORROBORATE_OIDC_ONE_FACTOR_ROLES=analyst``), an analyst's password-only
sign-in at the real provider is admitted, and a partner's still refused with the reason."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from corroborate.access import service_settings
from corroborate.auth import Role
from corroborate.provider import Person
from corroborate.settings import Settings
from corroborate_testing import running
from corroborate_testing.identity import Codes, LocalProvider, sign_in_at_provider
from intake.bootstrap import create_app

pytestmark = pytest.mark.integration

Headers = dict[str, str]
CODES = Codes()


@pytest.fixture
async def lenient(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Intake asking only for ``openid`` (a password at this provider), analysts allowed one
    factor."""
    configured = service_settings(settings, "intake").model_copy(
        update={"oidc_scopes": "openid", "oidc_one_factor_roles": "analyst"}
    )
    async with running(create_app(configured)) as client:
        yield client


async def _password_only(
    intake: httpx.AsyncClient, provider: LocalProvider, person: Person
) -> httpx.Response:
    started = await intake.get("/auth/sign-in", params={"next": "/auth/me"})
    back = await sign_in_at_provider(
        provider.url,
        person,
        started.headers["location"],
        codes=CODES,
        client_id=provider.client_id("intake"),
        scope="openid",
        second_factor=False,
    )
    return await intake.get("/auth/callback", params=back)


async def test_only_the_roles_allowed_one_factor_sign_in_with_a_password_alone(
    lenient: httpx.AsyncClient, settings: Settings, bearer: Callable[..., Headers]
) -> None:
    provider = LocalProvider.of(settings)
    admin = bearer(Role.ADMIN, sub="admin-one-factor")
    analyst = await provider.new_person(name="Ana Lyst")
    partner = await provider.new_person(name="Pat Partner")
    firm = await lenient.post(
        "/directory/organisations", json={"name": f"One {secrets.token_hex(3)}"}, headers=admin
    )
    for person, role, organisation in (
        (analyst, "analyst", None),
        (partner, "partner", firm.json()["organisation_id"]),
    ):
        invited = await lenient.post(
            "/directory/people",
            json={
                "email": person.email,
                "name": person.name,
                "roles": [role],
                "organisation_id": organisation,
            },
            headers=admin,
        )
        assert invited.status_code == 201, invited.text

    admitted = await _password_only(lenient, provider, analyst)
    assert admitted.status_code == 303, admitted.text
    assert "Ana Lyst" in (await lenient.get("/auth/me")).text

    lenient.cookies.clear()
    refused = await _password_only(lenient, provider, partner)
    assert refused.status_code == 403
    assert "needs a second factor" in refused.text
    assert (await lenient.get("/auth/me")).status_code == 303
