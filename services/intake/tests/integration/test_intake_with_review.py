"""Intake and review in one process: a submission reaches triage, and triage news comes back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from corroborate.auth import Role
from corroborate.settings import Settings
from corroborate.testing import running
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

    accepted = await review.post(
        f"/cases/{case_id}/decision", json={"outcome": "accept"}, headers=coordinator
    )
    assert accepted.status_code == 200, accepted.text
    assigned = await review.post(
        f"/cases/{case_id}/assignment", json={"clinician_id": "dr-7"}, headers=coordinator
    )
    assert assigned.status_code == 200, assigned.text

    async def partner_sees_assessment() -> bool:
        view = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
        return bool(view["status"] == "in_assessment")

    await wait_until(partner_sees_assessment, what="status in_assessment at intake")
