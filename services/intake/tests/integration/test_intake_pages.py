"""Intake's pages against the real database and broker: an administrator keeps the directory
through forms (each error named by field, in the GOV.UK pattern, with what was typed kept); a
form without the session's CSRF token changes nothing; a partner sees their organisation's
referrals and no one else's; a page not for you says so."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from corroborate.auth import Role
from corroborate.oidc import SignedIn
from corroborate.walk.samples import sample_referral
from corroborate_testing.identity import session_at

pytestmark = pytest.mark.integration

Headers = dict[str, str]


class Browser:
    """A person's browser at intake: their session cookie, and the CSRF token of their pages."""

    def __init__(self, client: httpx.AsyncClient, session_id: str, csrf: str) -> None:
        self.client, self.csrf = client, csrf
        self.cookie = {"Cookie": f"corroborate-intake-session={session_id}"}

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path, headers=self.cookie)

    async def post(self, path: str, form: dict[str, Any], *, csrf: bool = True) -> httpx.Response:
        data = {**form, **({"csrf_token": self.csrf} if csrf else {})}
        return await self.client.post(path, data=data, headers=self.cookie)


async def _person(
    intake_app: FastAPI, intake: httpx.AsyncClient, admin: Headers, body: dict[str, Any]
) -> Browser:
    invited = await intake.post("/directory/people", json=body, headers=admin)
    assert invited.status_code == 201, invited.text
    subject = f"subject-{secrets.token_hex(4)}"
    directory = intake_app.state.directory
    bound = await directory.admit(
        SignedIn(subject, body["email"], None, ("otp",), None, "", claims={})
    )
    assert bound is not None
    session_id, csrf = await session_at(
        intake_app, person_id=invited.json()["person_id"], subject=subject
    )
    return Browser(intake, session_id, csrf)


@pytest.fixture
def admin_token(bearer: Callable[..., Headers]) -> Headers:
    return bearer(Role.ADMIN, sub="admin-pages")


@pytest.fixture
async def admin(intake_app: FastAPI, intake: httpx.AsyncClient, admin_token: Headers) -> Browser:
    email = f"admin-{secrets.token_hex(3)}@corroborate.test"
    return await _person(
        intake_app, intake, admin_token, {"email": email, "name": "Ada Admin", "roles": ["admin"]}
    )


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_an_administrator_adds_an_organisation_and_invites_a_solicitor(
    admin: Browser, intake: httpx.AsyncClient, admin_token: Headers
) -> None:
    name = f"Mensah {secrets.token_hex(2)} Solicitors"
    added = await admin.post("/admin/organisations", {"name": name, "contact_email": ""})
    assert added.status_code == 303
    page_url = added.headers["location"].split("?")[0]
    organisation_id = page_url.rsplit("/", 1)[1]

    page = await admin.get(added.headers["location"])
    assert page.status_code == 200
    assert "The organisation was added." in _text(page.text)
    assert name in page.text

    invited = await admin.post(
        f"{page_url}/people", {"person_name": "Yaw Boateng", "email": "yaw@mensah.test"}
    )
    assert invited.status_code == 303
    people = await intake.get(
        "/directory/people", params={"organisation_id": organisation_id}, headers=admin_token
    )
    assert [(p["name"], p["roles"]) for p in people.json()] == [("Yaw Boateng", ["partner"])]
    shown = _text((await admin.get(page_url)).text)
    assert "Yaw Boateng" in shown
    assert "Invited" in shown


async def test_an_error_is_named_by_its_field_and_what_was_typed_is_kept(
    admin: Browser,
) -> None:
    refused = await admin.post(
        "/admin/organisations",
        {"name": "Okonkwo Law", "organisation_id": "Not A Slug!", "contact_email": "a@b.org"},
    )

    assert refused.status_code == 422
    html = refused.text
    assert 'class="error-summary"' in html
    assert '<a href="#organisation_id">' in html  # the summary links to the field
    assert 'id="organisation_id-error"' in html
    assert 'aria-describedby="organisation_id-hint organisation_id-error"' in html
    assert "Lower-case letters, digits and single hyphens only." in _text(html)
    assert 'value="Okonkwo Law"' in html  # nothing typed is lost
    assert 'value="a@b.org"' in html
    assert "<title>Error: " in html

    empty = await admin.post("/admin/people", {"person_name": "", "email": ""})
    assert empty.status_code == 422
    for field, message in (
        ("person_name", "Enter their name."),
        ("email", "Enter their email address."),
        ("roles", "Choose at least one role."),
    ):
        assert f'<a href="#{field}">{message}</a>' in empty.text


async def test_a_form_without_the_sessions_csrf_token_changes_nothing(
    admin: Browser, intake: httpx.AsyncClient, admin_token: Headers
) -> None:
    name = f"Forged {secrets.token_hex(3)} LLP"

    forged = await admin.post("/admin/organisations", {"name": name}, csrf=False)

    assert forged.status_code == 403
    assert "This form has expired" in forged.text
    listed = await intake.get("/directory/organisations", headers=admin_token)
    assert name not in {o["name"] for o in listed.json()}


async def test_a_partner_sees_their_organisations_referrals_only(
    intake_app: FastAPI,
    intake: httpx.AsyncClient,
    admin_token: Headers,
    bearer: Callable[..., Headers],
) -> None:
    firms = []
    for _ in range(2):
        created = await intake.post(
            "/directory/organisations",
            json={"name": f"Firm {secrets.token_hex(3)}"},
            headers=admin_token,
        )
        firms.append(created.json()["organisation_id"])
    ours, theirs = firms
    solicitor = await _person(
        intake_app,
        intake,
        admin_token,
        {
            "email": f"sol-{secrets.token_hex(3)}@firm.test",
            "name": "Sam Solicitor",
            "roles": ["partner"],
            "organisation_id": ours,
        },
    )
    empty = await solicitor.get("/partner/referrals")
    assert "Your organisation has no referrals yet." in empty.text

    references = {}
    for organisation in (ours, theirs):
        drafted = await intake.post(
            "/referrals",
            json=sample_referral("Listed Person"),
            headers={
                **bearer(Role.PARTNER, org=organisation, sub="s"),
                "Idempotency-Key": secrets.token_hex(8),
            },
        )
        assert drafted.status_code == 201, drafted.text
        references[organisation] = drafted.json()["reference"]

    listed = await solicitor.get("/partner/referrals")

    assert references[ours] in listed.text
    assert references[theirs] not in listed.text
    assert "Draft, not yet sent" in listed.text
    assert "Listed Person" not in listed.text  # a list shows no one's identity
    landing = await solicitor.get("/")
    assert landing.status_code == 303
    assert landing.headers["location"] == "/partner/referrals"
    # The directory is not theirs to see.
    refused = await solicitor.get("/admin/organisations")
    assert refused.status_code == 403
    assert "This page is for administrators" in _text(refused.text)


async def test_someone_not_signed_in_is_sent_to_sign_in_and_brought_back(
    intake: httpx.AsyncClient,
) -> None:
    answer = await intake.get("/admin/people?x=1")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/auth/sign-in?next=/admin/people%3Fx%3D1"
