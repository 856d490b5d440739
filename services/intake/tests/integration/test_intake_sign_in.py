"""People sign in to intake's pages through the real OpenID Connect provider, and only if the
directory knows them: an invitation binds once, a deactivated person's sessions end, sign-out
needs the session's CSRF token."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from corroborate.auth import Role
from corroborate.provider import Person
from corroborate.settings import Settings
from corroborate_testing.identity import Codes, LocalProvider, sign_in_at_provider, sign_in_to

pytestmark = pytest.mark.integration

Headers = dict[str, str]
Spy = Callable[..., Awaitable[dict[str, bytes]]]
CODES = Codes()


@pytest.fixture(scope="module")
def provider(settings: Settings) -> LocalProvider:
    return LocalProvider.of(settings)


@pytest.fixture
def admin(bearer: Callable[..., Headers]) -> Headers:
    return bearer(Role.ADMIN, sub="admin-directory")


async def _organisation(intake: httpx.AsyncClient, admin: Headers) -> dict[str, Any]:
    created = await intake.post(
        "/directory/organisations",
        json={"name": f"Firm {secrets.token_hex(3)} Solicitors"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def _invite(
    intake: httpx.AsyncClient, admin: Headers, person: Person, organisation: str
) -> dict[str, Any]:
    invited = await intake.post(
        "/directory/people",
        json={
            "email": person.email,
            "name": person.name,
            "roles": ["partner"],
            "organisation_id": organisation,
        },
        headers=admin,
    )
    assert invited.status_code == 201, invited.text
    body: dict[str, Any] = invited.json()
    return body


async def _sign_in(
    intake: httpx.AsyncClient, provider: LocalProvider, person: Person
) -> httpx.Response:
    """The browser's round trip: intake's sign-in, the provider, back to intake's callback."""
    return await sign_in_to(intake, "intake", provider, person, codes=CODES)


async def _invited_back_from_provider(
    intake: httpx.AsyncClient, provider: LocalProvider, admin: Headers
) -> dict[str, str]:
    """An invited partner signed in at the provider: what it sends back to the callback."""
    organisation = await _organisation(intake, admin)
    person = await provider.new_person()
    await _invite(intake, admin, person, organisation["organisation_id"])
    started = await intake.get("/auth/sign-in")
    return await sign_in_at_provider(
        provider.url,
        person,
        started.headers["location"],
        codes=CODES,
        client_id=provider.client_id("intake"),
    )


async def test_an_invited_partner_signs_in_and_sees_their_organisation(
    intake: httpx.AsyncClient, provider: LocalProvider, admin: Headers
) -> None:
    organisation = await _organisation(intake, admin)
    person = await provider.new_person(name="Nadia Rahman")
    invited = await _invite(intake, admin, person, organisation["organisation_id"])
    assert invited["invitation_open"] is True

    returned = await _sign_in(intake, provider, person)
    assert returned.status_code == 303, returned.text
    assert returned.headers["location"] == "/auth/me"
    me = await intake.get("/auth/me")

    assert me.status_code == 200
    assert "Nadia Rahman" in me.text
    assert organisation["name"] in me.text
    policy = me.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert me.headers["x-content-type-options"] == "nosniff"
    assert me.headers["referrer-policy"] == "no-referrer"
    cookie = returned.headers["set-cookie"]
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    people = (await intake.get("/directory/people", headers=admin)).json()
    bound = next(p for p in people if p["email"] == person.email)
    assert bound["invitation_open"] is False
    assert bound["last_sign_in_at"] is not None


async def test_someone_the_directory_does_not_know_is_told_to_ask_their_administrator(
    intake: httpx.AsyncClient, provider: LocalProvider
) -> None:
    stranger = await provider.new_person(name="Not Invited")

    returned = await _sign_in(intake, provider, stranger)

    assert returned.status_code == 403
    assert "ask your administrator" in returned.text
    assert not [c for c in returned.headers.get_list("set-cookie") if "-session=" in c]
    assert (await intake.get("/auth/me")).status_code == 303


async def test_an_invitation_binds_to_the_first_account_only(
    intake: httpx.AsyncClient, provider: LocalProvider, admin: Headers
) -> None:
    organisation = await _organisation(intake, admin)
    person = await provider.new_person(name="First Account")
    await _invite(intake, admin, person, organisation["organisation_id"])
    assert (await _sign_in(intake, provider, person)).status_code == 303

    # Another account at the provider with the same email address cannot take the invitation.
    intake.cookies.clear()
    other = await provider.new_person(name="Second Account", email=person.email)
    returned = await _sign_in(intake, provider, other)
    assert returned.status_code == 403


async def test_a_replayed_callback_is_refused(
    intake: httpx.AsyncClient, provider: LocalProvider, admin: Headers
) -> None:
    back = await _invited_back_from_provider(intake, provider, admin)
    assert (await intake.get("/auth/callback", params=back)).status_code == 303

    again = await intake.get("/auth/callback", params=back)

    assert again.status_code == 400
    assert "expired or was already used" in again.text


async def test_a_forged_state_gets_no_session(
    intake: httpx.AsyncClient, provider: LocalProvider, admin: Headers
) -> None:
    back = await _invited_back_from_provider(intake, provider, admin)

    forged = await intake.get("/auth/callback", params={**back, "state": "forged"})

    assert forged.status_code == 400
    assert (await intake.get("/auth/me")).status_code == 303


async def test_deactivating_a_person_ends_their_sessions_at_the_next_request(
    intake: httpx.AsyncClient, provider: LocalProvider, admin: Headers, settings: Settings
) -> None:
    organisation = await _organisation(intake, admin)
    person = await provider.new_person(name="Leaving Soon")
    invited = await _invite(intake, admin, person, organisation["organisation_id"])
    assert (await _sign_in(intake, provider, person)).status_code == 303
    assert (await intake.get("/auth/me")).status_code == 200

    changed = await intake.patch(
        f"/directory/people/{invited['person_id']}", json={"active": False}, headers=admin
    )
    assert changed.status_code == 200, changed.text

    assert (await intake.get("/auth/me")).status_code == 303
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value()
    )
    try:
        sessions = client[settings.database_name("intake")]["web_sessions"]
        assert await sessions.count_documents({"person_id": invited["person_id"]}) == 0
    finally:
        await client.close()


async def test_signing_out_needs_the_sessions_csrf_token_and_ends_the_providers_session(
    intake: httpx.AsyncClient, provider: LocalProvider, admin: Headers
) -> None:
    organisation = await _organisation(intake, admin)
    person = await provider.new_person()
    await _invite(intake, admin, person, organisation["organisation_id"])
    await _sign_in(intake, provider, person)
    page = (await intake.get("/auth/me")).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None

    forged = await intake.post("/auth/sign-out", data={"csrf_token": "not-it"})
    assert forged.status_code == 403
    assert (await intake.get("/auth/me")).status_code == 200  # still signed in

    signed_out = await intake.post("/auth/sign-out", data={"csrf_token": token.group(1)})
    assert signed_out.status_code == 303
    assert signed_out.headers["location"].startswith(f"{provider.issuer}/end_session")
    assert (await intake.get("/auth/me")).status_code == 303


async def test_the_directory_refuses_what_breaks_its_rules_by_field(
    intake: httpx.AsyncClient, admin: Headers, bearer: Callable[..., Headers]
) -> None:
    organisation = await _organisation(intake, admin)
    cases = [
        ({"email": "x@example.org", "name": "X", "roles": ["partner"]}, "organisation_id"),
        (
            {
                "email": "y@example.org",
                "name": "Y",
                "roles": ["partner", "clinician"],
                "organisation_id": organisation["organisation_id"],
            },
            "roles",
        ),
        ({"email": "not-an-email", "name": "Z", "roles": ["legal"]}, "email"),
        (
            {
                "email": "w@example.org",
                "name": "W",
                "roles": ["partner"],
                "organisation_id": "no-such-firm",
            },
            "organisation_id",
        ),
    ]
    for body, field in cases:
        refused = await intake.post("/directory/people", json=body, headers=admin)
        assert refused.status_code == 422, refused.text
        assert field in refused.text, refused.text

    partner = bearer(Role.PARTNER, org=organisation["organisation_id"], sub="sol")
    assert (await intake.get("/directory/people", headers=partner)).status_code == 403
    duplicate = await intake.post(
        "/directory/organisations",
        json={"name": organisation["name"], "organisation_id": organisation["organisation_id"]},
        headers=admin,
    )
    assert duplicate.status_code == 422
    assert "organisation_id" in duplicate.text


async def test_each_change_to_a_person_is_announced_as_they_now_are(
    intake: httpx.AsyncClient, provider: LocalProvider, admin: Headers, spy: Spy
) -> None:
    organisation = await _organisation(intake, admin)
    person = await provider.new_person(name="Announced Person")
    invited = await _invite(intake, admin, person, organisation["organisation_id"])
    person_id = invited["person_id"]

    async def snapshot(revision: int) -> dict[str, Any]:
        seen = await spy(
            person_id,
            {"directory.person_changed"},
            where=lambda event: event["payload"]["revision"] == revision,
        )
        payload: dict[str, Any] = json.loads(seen["directory.person_changed"])["payload"]
        return payload

    invitation = await snapshot(1)
    assert (await _sign_in(intake, provider, person)).status_code == 303
    bound = await snapshot(2)
    changed = await intake.patch(
        f"/directory/people/{person_id}", json={"active": False}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    left = await snapshot(3)

    assert (invitation["subject"], invitation["active"]) == (None, True)
    assert bound["subject"] is not None
    assert bound["active"] is True
    assert (left["subject"], left["active"]) == (bound["subject"], False)
    for each in (invitation, bound, left):
        assert each["email"] == person.email
        assert each["organisation_id"] == organisation["organisation_id"]
        assert each["roles"] == ["partner"]
