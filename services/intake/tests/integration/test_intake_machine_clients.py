"""A partner's own case system calls intake with an OAuth 2 client-credentials token from the
real provider: it acts for the one organisation the directory registered it for, and is
refused the moment that registration or the organisation ends, or when it was never made."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from corroborate.auth import Role
from corroborate.settings import Settings
from corroborate.walk.samples import sample_referral
from corroborate_testing.identity import LocalProvider

pytestmark = pytest.mark.integration

Headers = dict[str, str]


@pytest.fixture(scope="module")
def provider(settings: Settings) -> LocalProvider:
    return LocalProvider.of(settings)


@pytest.fixture
def admin(bearer: Callable[..., Headers]) -> Headers:
    return bearer(Role.ADMIN, sub="admin-machines")


async def _organisation(intake: httpx.AsyncClient, admin: Headers) -> str:
    created = await intake.post(
        "/directory/organisations",
        json={"name": f"Firm {secrets.token_hex(3)} Law"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    organisation_id: str = created.json()["organisation_id"]
    return organisation_id


def _as(token: str, **more: str) -> Headers:
    return {"Authorization": f"Bearer {token}", **more}


async def _draft(intake: httpx.AsyncClient, headers: Headers) -> httpx.Response:
    return await intake.post(
        "/referrals",
        json=sample_referral("Machine Person"),
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )


async def test_a_registered_system_acts_for_its_organisation_only(
    intake: httpx.AsyncClient,
    provider: LocalProvider,
    admin: Headers,
    bearer: Callable[..., Headers],
) -> None:
    ours, theirs = await _organisation(intake, admin), await _organisation(intake, admin)
    machine = await provider.new_machine_client()
    registered = await intake.post(
        f"/directory/organisations/{ours}/api-clients",
        json={"client_id": machine.client_id},
        headers=admin,
    )
    assert registered.status_code == 201, registered.text
    token = await provider.client_token(machine)

    drafted = await _draft(intake, _as(token))
    assert drafted.status_code == 201, drafted.text
    case_id = drafted.json()["case_id"]

    listed = await intake.get("/referrals", headers=_as(token))
    assert listed.status_code == 200, listed.text
    assert [r["case_id"] for r in listed.json()["items"]] == [case_id]
    # The organisation's own people see it; another organisation's do not.
    mine = await intake.get("/referrals", headers=bearer(Role.PARTNER, org=ours, sub="sol-1"))
    assert case_id in {r["case_id"] for r in mine.json()["items"]}
    other = await intake.get("/referrals", headers=bearer(Role.PARTNER, org=theirs, sub="sol-2"))
    assert case_id not in {r["case_id"] for r in other.json()["items"]}
    seen = await intake.get(f"/referrals/{case_id}", headers=_as(token))
    assert seen.status_code == 200
    assert seen.json()["details"]["survivor"]["full_name"] == "Machine Person"
    hidden = await intake.get(
        f"/referrals/{case_id}", headers=bearer(Role.PARTNER, org=theirs, sub="sol-2")
    )
    assert hidden.status_code == 404

    # The same client cannot be given to a second organisation.
    again = await intake.post(
        f"/directory/organisations/{theirs}/api-clients",
        json={"client_id": machine.client_id},
        headers=admin,
    )
    assert again.status_code == 422
    assert "client_id" in again.text


async def test_a_system_the_directory_does_not_know_is_refused(
    intake: httpx.AsyncClient, provider: LocalProvider
) -> None:
    machine = await provider.new_machine_client()
    token = await provider.client_token(machine)

    refused = await intake.get("/referrals", headers=_as(token))

    assert refused.status_code == 401
    assert "acts for no active organisation" in refused.text


async def test_ending_the_registration_or_the_organisation_refuses_its_tokens_at_once(
    intake: httpx.AsyncClient, provider: LocalProvider, admin: Headers
) -> None:
    first, second = await _organisation(intake, admin), await _organisation(intake, admin)
    machines = [await provider.new_machine_client() for _ in range(2)]
    for organisation, machine in zip((first, second), machines, strict=True):
        added = await intake.post(
            f"/directory/organisations/{organisation}/api-clients",
            json={"client_id": machine.client_id},
            headers=admin,
        )
        assert added.status_code == 201, added.text
    tokens = [await provider.client_token(m) for m in machines]
    for token in tokens:
        assert (await intake.get("/referrals", headers=_as(token))).status_code == 200

    removed = await intake.delete(
        f"/directory/organisations/{first}/api-clients/{machines[0].client_id}", headers=admin
    )
    assert removed.status_code == 204
    deactivated = await intake.patch(
        f"/directory/organisations/{second}", json={"active": False}, headers=admin
    )
    assert deactivated.status_code == 200

    for token in tokens:
        refused = await intake.get("/referrals", headers=_as(token))
        assert refused.status_code == 401, refused.text
    listed = await intake.get(f"/directory/organisations/{first}/api-clients", headers=admin)
    assert listed.json() == []


async def test_a_token_altered_after_the_provider_signed_it_is_refused(
    intake: httpx.AsyncClient, provider: LocalProvider, admin: Headers
) -> None:
    organisation = await _organisation(intake, admin)
    machine = await provider.new_machine_client()
    await intake.post(
        f"/directory/organisations/{organisation}/api-clients",
        json={"client_id": machine.client_id},
        headers=admin,
    )
    header, payload, signature = (await provider.client_token(machine)).split(".")
    forged_signature = signature[:-4] + ("AAAA" if not signature.endswith("AAAA") else "BBBB")

    refused = await intake.get(
        "/referrals", headers=_as(".".join((header, payload, forged_signature)))
    )

    assert refused.status_code == 401
    body: dict[str, Any] = refused.json()
    assert "token rejected" in str(body)
