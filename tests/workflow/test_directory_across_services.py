"""The directory lives in intake; review and reporting learn it from its events. A clinician
invited at intake signs in at review, follows the directory on the roster, and once deactivated
gets no new case, shows on the coordinator's at-risk view with their open case, and is signed
out at review at their next request. A legal reviewer signs in at reporting; a partner at
neither."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from corroborate.auth import Role
from corroborate.settings import Settings
from corroborate.walk.samples import minimal_pdf, roster_entry, sample_referral
from corroborate.walk.steps import People, ReferralWalk, put_on_roster
from corroborate_testing import TEST_PACE, eventually, in_process
from corroborate_testing.identity import Codes, LocalProvider, heard_of, sign_in_to

pytestmark = pytest.mark.integration

Headers = dict[str, str]
CODES = Codes()


async def _invite(
    intake: httpx.AsyncClient, admin: Headers, email: str, name: str, role: str, **more: Any
) -> dict[str, Any]:
    invited = await intake.post(
        "/directory/people",
        json={"email": email, "name": name, "roles": [role], **more},
        headers=admin,
    )
    assert invited.status_code == 201, invited.text
    body: dict[str, Any] = invited.json()
    return body


async def _roster_entry(
    review: httpx.AsyncClient, coordinator: Headers, clinician_id: str
) -> dict[str, Any] | None:
    roster = (await review.get("/roster", headers=coordinator)).json()
    return next((c for c in roster if c["clinician_id"] == clinician_id), None)


async def test_a_clinician_follows_the_directory_from_sign_in_to_leaving(
    services: dict[str, httpx.AsyncClient], bearer: Callable[..., Headers], settings: Settings
) -> None:
    intake, review = services["intake"], services["review"]
    provider = LocalProvider.of(settings)
    admin = bearer(Role.ADMIN, sub="admin-dir")
    coordinator = bearer(Role.COORDINATOR, sub="coordinator-dir")
    person = await provider.new_person(name="Dr Maryam Sadeghi")
    invited = await _invite(intake, admin, person.email, "Dr Maryam Sadeghi", "clinician")
    clinician_id = invited["person_id"]

    # Review hears of her from intake's event, and lets her in.
    await heard_of(settings, "review", clinician_id)
    admitted = await sign_in_to(review, "review", provider, person, codes=CODES)
    assert admitted.status_code == 303, admitted.text
    me = await review.get("/auth/me")
    assert me.status_code == 200
    assert "Dr Maryam Sadeghi" in me.text
    assert "clinician" in me.text

    # The coordinator puts her on the roster under another name: the directory's holds.
    await put_on_roster(
        in_process(services).review, coordinator, clinician_id, roster_entry("M. Sadeghi")
    )
    entry = await _roster_entry(review, coordinator, clinician_id)
    assert entry is not None
    assert (entry["name"], entry["active"]) == ("Dr Maryam Sadeghi", True)

    walks = [
        ReferralWalk(
            in_process(services),
            People(
                partner=bearer(Role.PARTNER, org="dir-solicitors", sub="solicitor-dir"),
                coordinator=coordinator,
                clinicians={clinician_id: bearer(Role.CLINICIAN, sub=clinician_id)},
                senior=bearer(Role.SENIOR_CLINICIAN, sub="senior-dir"),
                legal=bearer(Role.LEGAL, sub="legal-dir"),
            ),
            pace=TEST_PACE,
        )
        for _ in range(2)
    ]
    for walk in walks:
        await walk.draft(sample_referral("Directory Person"))
        await walk.upload(minimal_pdf("dir"))
        await walk.submit()
        await walk.reaches_triage()
        await walk.accept()
    await walks[0].assign(clinician_id)

    # She leaves: the administrator deactivates her at intake.
    changed = await intake.patch(
        f"/directory/people/{clinician_id}", json={"active": False}, headers=admin
    )
    assert changed.status_code == 200, changed.text

    async def off_the_roster() -> dict[str, Any] | None:
        entry = await _roster_entry(review, coordinator, clinician_id)
        return entry if entry is not None and entry["active"] is False else None

    await eventually(off_the_roster, within=30, what="the roster follows the directory")
    # No new case for her, and she is no longer suggested.
    refused = await review.post(
        f"/cases/{walks[1].case_id}/assignment",
        json={"clinician_id": clinician_id},
        headers=coordinator,
    )
    assert refused.status_code == 422, refused.text
    assert "not a working clinician" in refused.text
    suggestions = await walks[1].suggestions()
    assert clinician_id not in {s["clinician_id"] for s in suggestions}
    # Her open case is on the coordinator's at-risk view, saying why.
    at_risk = (await review.get("/at-risk", headers=coordinator)).json()
    held = next(item for item in at_risk if item["case_id"] == str(walks[0].case_id))
    assert "clinician_left" in {risk["kind"] for risk in held["risks"]}
    assert str(walks[1].case_id) not in {item["case_id"] for item in at_risk}
    # And her session at review ends at her next request.
    assert (await review.get("/auth/me")).status_code == 303


async def test_reporting_admits_its_staff_and_no_one_signs_in_where_the_directory_has_not_reached(
    services: dict[str, httpx.AsyncClient], bearer: Callable[..., Headers], settings: Settings
) -> None:
    intake, reporting = services["intake"], services["reporting"]
    provider = LocalProvider.of(settings)
    admin = bearer(Role.ADMIN, sub="admin-dir")
    legal = await provider.new_person(name="Ruth Ansah")
    invited = await _invite(intake, admin, legal.email, "Ruth Ansah", "legal")
    await heard_of(settings, "reporting", invited["person_id"])
    admitted = await sign_in_to(reporting, "reporting", provider, legal, codes=CODES)
    assert admitted.status_code == 303, admitted.text
    me = await reporting.get("/auth/me")
    assert "Ruth Ansah" in me.text
    assert "legal" in me.text

    # A partner belongs to intake's pages: reporting does not admit them, even once it has
    # heard of them.
    created = await intake.post(
        "/directory/organisations", json={"name": "Directory Test Law Centre"}, headers=admin
    )
    assert created.status_code == 201, created.text
    partner = await provider.new_person(name="Partner Elsewhere")
    invited = await _invite(
        intake,
        admin,
        partner.email,
        "Partner Elsewhere",
        "partner",
        organisation_id=created.json()["organisation_id"],
    )
    await heard_of(settings, "reporting", invited["person_id"])
    await reporting.post("/auth/sign-out")
    reporting.cookies.clear()
    refused = await sign_in_to(reporting, "reporting", provider, partner, codes=CODES)
    assert refused.status_code == 403, refused.text
    assert "ask your administrator" in refused.text
