"""Intake and review in one process: a submission reaches triage, and triage news comes back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from corroborate.auth import Role
from corroborate.settings import Settings
from corroborate.walk.samples import ACCEPT
from corroborate_testing import running
from review.bootstrap import create_app as create_review_app

pytestmark = pytest.mark.integration

Headers = dict[str, str]
Create = Callable[..., Awaitable[dict[str, Any]]]
Upload = Callable[..., Awaitable[httpx.Response]]
WaitUntil = Callable[..., Awaitable[Any]]


@pytest.fixture
async def review(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_review_app(settings)) as client:
        yield client


async def test_a_submitted_referral_reaches_triage_and_its_progress_returns(
    intake: httpx.AsyncClient,
    review: httpx.AsyncClient,
    bearer: Callable[..., Headers],
    partner: Headers,
    create_referral: Create,
    upload: Upload,
    document: bytes,
    wait_until: WaitUntil,
) -> None:
    coordinator = bearer(Role.COORDINATOR, sub="coordinator-1")
    created = await create_referral()
    case_id = created["case_id"]
    assert (await upload(case_id, document)).status_code == 201
    assert (await intake.post(f"/referrals/{case_id}/submit", headers=partner)).status_code == 200

    async def in_triage() -> dict[str, Any] | None:
        queue = (await review.get("/triage", headers=coordinator)).json()
        return next((item for item in queue if item["case_id"] == case_id), None)

    item = await wait_until(in_triage, what="the referral in triage")
    assert item["reference"] == created["reference"]
    assert "detained" in item["reasons"]

    accepted = await review.post(f"/cases/{case_id}/decision", json=ACCEPT, headers=coordinator)
    assert accepted.status_code == 200, accepted.text
    entry = {"name": "Dr Seven", "disciplines": ["physical"], "languages": ["ti"], "capacity": 3}
    assert (await review.put("/roster/dr-7", json=entry, headers=coordinator)).status_code == 200
    assigned = await review.post(
        f"/cases/{case_id}/assignment", json={"clinician_id": "dr-7"}, headers=coordinator
    )
    assert assigned.status_code == 200, assigned.text

    async def partner_sees_assessment() -> bool:
        view = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
        return bool(view["status"] == "in_assessment")

    await wait_until(partner_sees_assessment, what="status in_assessment at intake")
    day = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    booked = await review.post(
        f"/cases/{case_id}/appointments",
        json={"on": day, "remote": True},
        headers=coordinator,
    )
    assert booked.status_code == 201, booked.text

    async def partner_sees_appointment() -> dict[str, Any] | None:
        view: dict[str, Any] = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
        return view if view["status"] == "appointment_booked" else None

    view = await wait_until(partner_sees_appointment, what="appointment booked at intake")
    assert view["deadline"] == day


async def _submitted(
    intake: httpx.AsyncClient,
    partner: Headers,
    create: Create,
    upload: Upload,
    document: bytes,
) -> str:
    case_id: str = (await create())["case_id"]
    assert (await upload(case_id, document)).status_code == 201
    assert (await intake.post(f"/referrals/{case_id}/submit", headers=partner)).status_code == 200
    return case_id


def _status_is(
    intake: httpx.AsyncClient, partner: Headers, case_id: str, status: str
) -> Callable[[], Awaitable[dict[str, Any] | None]]:
    async def probe() -> dict[str, Any] | None:
        view: dict[str, Any] = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
        return view if view["status"] == status else None

    return probe


async def test_triage_asks_the_partner_answers_and_the_case_is_back_in_triage(
    intake: httpx.AsyncClient,
    review: httpx.AsyncClient,
    bearer: Callable[..., Headers],
    partner: Headers,
    create_referral: Create,
    upload: Upload,
    document: bytes,
    wait_until: WaitUntil,
) -> None:
    coordinator = bearer(Role.COORDINATOR, sub="coordinator-1")
    case_id = await _submitted(intake, partner, create_referral, upload, document)
    acknowledged = await wait_until(
        _status_is(intake, partner, case_id, "acknowledged"), what="acknowledged"
    )
    due_before = acknowledged["deadline"]

    asked = await review.post(
        f"/cases/{case_id}/decision",
        json={"outcome": "request_information", "question": "Please send the interview record."},
        headers=coordinator,
    )
    assert asked.status_code == 200, asked.text
    view = await wait_until(
        _status_is(intake, partner, case_id, "information_requested"), what="question"
    )
    assert view["timeline"][-1]["note"] == "Please send the interview record."
    waiting = (await review.get("/triage", headers=coordinator)).json()
    assert case_id not in {item["case_id"] for item in waiting}

    attached = await upload(case_id, document + b"\n% interview", kind="interview_record")
    answered = await intake.post(
        f"/referrals/{case_id}/information",
        json={
            "request_id": view["open_request"],
            "answer": "Attached.",
            "document_ids": [attached.json()["document_id"]],
        },
        headers=partner,
    )
    assert answered.status_code == 200, answered.text

    async def back_in_triage() -> dict[str, Any] | None:
        queue = (await review.get("/triage", headers=coordinator)).json()
        return next((item for item in queue if item["case_id"] == case_id), None)

    await wait_until(back_in_triage, what="back in triage")
    case = (await review.get(f"/cases/{case_id}", headers=coordinator)).json()
    assert attached.json()["sha256"] in {d["sha256"] for d in case["documents"]}
    assert case["response_due"] >= due_before


async def test_a_declined_referral_tells_the_partner_why(
    intake: httpx.AsyncClient,
    review: httpx.AsyncClient,
    bearer: Callable[..., Headers],
    partner: Headers,
    create_referral: Create,
    upload: Upload,
    document: bytes,
    wait_until: WaitUntil,
) -> None:
    coordinator = bearer(Role.COORDINATOR, sub="coordinator-1")
    case_id = await _submitted(intake, partner, create_referral, upload, document)
    await wait_until(_status_is(intake, partner, case_id, "acknowledged"), what="acknowledged")

    waitlisted = await review.post(
        f"/cases/{case_id}/decision", json={"outcome": "waitlist"}, headers=coordinator
    )
    assert waitlisted.status_code == 200, waitlisted.text
    await wait_until(_status_is(intake, partner, case_id, "waitlisted"), what="waitlisted")
    listed = await review.get("/triage", params={"status": "waitlisted"}, headers=coordinator)
    assert case_id in {item["case_id"] for item in listed.json()}

    declined = await review.post(
        f"/cases/{case_id}/decision",
        json={"outcome": "decline", "reason": "We cannot take cases from this region now."},
        headers=coordinator,
    )
    assert declined.status_code == 200, declined.text
    view = await wait_until(_status_is(intake, partner, case_id, "declined"), what="declined")
    assert view["timeline"][-1]["note"] == "We cannot take cases from this region now."
    again = await review.post(f"/cases/{case_id}/decision", json=ACCEPT, headers=coordinator)
    assert again.status_code == 409
    assert again.json()["detail"] == "the case is declined: it cannot be accepted"


async def test_a_withdrawn_referral_leaves_triage_and_no_work_goes_on(
    intake: httpx.AsyncClient,
    review: httpx.AsyncClient,
    bearer: Callable[..., Headers],
    partner: Headers,
    create_referral: Create,
    upload: Upload,
    document: bytes,
    wait_until: WaitUntil,
) -> None:
    coordinator = bearer(Role.COORDINATOR, sub="coordinator-1")
    case_id = await _submitted(intake, partner, create_referral, upload, document)
    await wait_until(_status_is(intake, partner, case_id, "acknowledged"), what="acknowledged")

    withdrawn = await intake.post(
        f"/referrals/{case_id}/withdraw", json={"reason": "Leave granted."}, headers=partner
    )
    assert withdrawn.status_code == 200

    async def withdrawn_in_review() -> bool:
        case = (await review.get(f"/cases/{case_id}", headers=coordinator)).json()
        return bool(case["status"] == "withdrawn")

    await wait_until(withdrawn_in_review, what="withdrawn in review")
    queue = (await review.get("/triage", headers=coordinator)).json()
    assert case_id not in {item["case_id"] for item in queue}
    refused = await review.post(f"/cases/{case_id}/decision", json=ACCEPT, headers=coordinator)
    assert refused.status_code == 409
    assert "withdrawn" in refused.json()["detail"]
