"""Legal asks for changes; the same clinician revises; peer review approves again; legal sees
what changed and issues: the loop across reporting and review, and the partner's view of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from corroborate.access import service_settings
from corroborate.auth import Role
from corroborate.cli.demo import ACCEPT, minimal_pdf, sample_findings, sample_referral
from corroborate.settings import Settings
from corroborate.testing import eventually, running
from intake.bootstrap import create_app as create_intake
from reporting.bootstrap import create_app as create_reporting
from review.bootstrap import create_app as create_review

pytestmark = pytest.mark.integration

Headers = dict[str, str]


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    apps = {
        "intake": create_intake(service_settings(settings, "intake")),
        "review": create_review(service_settings(settings, "review")),
        "reporting": create_reporting(service_settings(settings, "reporting")),
    }
    async with AsyncExitStack() as stack:
        yield {name: await stack.enter_async_context(running(a)) for name, a in apps.items()}


async def test_changes_requested_by_legal_go_round_and_come_back_with_the_difference(
    services: dict[str, httpx.AsyncClient], bearer: Callable[..., Headers]
) -> None:
    intake, review, reporting = services["intake"], services["review"], services["reporting"]
    partner = bearer(Role.PARTNER, org="loop-solicitors", sub="solicitor-l")
    coordinator = bearer(Role.COORDINATOR, sub="coordinator-l")
    clinician = bearer(Role.CLINICIAN, sub="dr-loop")
    senior = bearer(Role.SENIOR_CLINICIAN, sub="senior-loop")
    legal = bearer(Role.LEGAL, sub="legal-l")

    case_id = (
        await intake.post("/referrals", json=sample_referral("Loop Person"), headers=partner)
    ).json()["case_id"]
    await intake.post(
        f"/referrals/{case_id}/documents",
        params={"kind": "home_office_decision"},
        content=minimal_pdf("x"),
        headers=partner,
    )
    await intake.post(f"/referrals/{case_id}/submit", headers=partner)

    async def reached(client: httpx.AsyncClient, path: str, headers: Headers) -> bool:
        return (await client.get(path, headers=headers)).status_code == 200

    await eventually(lambda: reached(review, f"/cases/{case_id}", coordinator), what="review")
    for who, is_senior in (("dr-loop", False), ("senior-loop", True)):
        entry = {"name": who, "disciplines": ["physical"], "capacity": 9, "senior": is_senior}
        await review.put(f"/roster/{who}", json=entry, headers=coordinator)
    await review.post(f"/cases/{case_id}/decision", json=ACCEPT, headers=coordinator)
    await review.post(
        f"/cases/{case_id}/assignment", json={"clinician_id": "dr-loop"}, headers=coordinator
    )
    booked = await review.post(
        f"/cases/{case_id}/appointments",
        json={"on": datetime.now(UTC).date().isoformat(), "remote": False},
        headers=coordinator,
    )
    appointment = booked.json()["appointments"][-1]["appointment_id"]
    await review.put(
        f"/cases/{case_id}/appointments/{appointment}/consent",
        json={"examination": True},
        headers=clinician,
    )

    async def draft_and_approve(findings: dict[str, Any]) -> None:
        saved = await review.put(f"/cases/{case_id}/findings", json=findings, headers=clinician)
        assert saved.status_code == 200, saved.text
        sent = await review.post(f"/cases/{case_id}/findings/submit", headers=clinician)
        assert sent.status_code == 200, sent.text
        approved = await review.post(
            f"/cases/{case_id}/peer-review", json={"verdict": "approve"}, headers=senior
        )
        assert approved.status_code == 200, approved.text

    await draft_and_approve(sample_findings())
    await eventually(
        lambda: reached(reporting, f"/legal-reviews/{case_id}", legal), what="legal review"
    )
    sent_back = await reporting.post(
        f"/legal-reviews/{case_id}/changes",
        json={"comments": "Answer the question on the scars directly."},
        headers=legal,
    )
    assert sent_back.status_code == 200, sent_back.text

    async def reopened() -> dict[str, Any] | None:
        case: dict[str, Any] = (await review.get(f"/cases/{case_id}", headers=clinician)).json()
        return case if case["status"] == "assigned" else None

    case = await eventually(reopened, what="reopened for the clinician")
    assert case["notes"][-1]["verdict"] == "legal_changes_requested"
    assert case["notes"][-1]["comments"] == "Answer the question on the scars directly."

    await draft_and_approve(sample_findings() | {"conclusions": "Highly consistent, as asked."})

    async def back_in_queue() -> dict[str, Any] | None:
        view: dict[str, Any] = (
            await reporting.get(f"/legal-reviews/{case_id}", headers=legal)
        ).json()
        return view if view["status"] == "awaiting_legal_review" else None

    view = await eventually(back_in_queue, what="the revision in the legal queue")
    assert view["changed"] == ["conclusions"]
    signed = await reporting.post(
        f"/legal-reviews/{case_id}/sign-off",
        json={"statement": "Reviewed and approved for issue."},
        headers=legal,
    )
    assert signed.status_code == 200, signed.text

    async def partner_sees_issued() -> bool:
        referral = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
        return bool(referral["status"] == "issued")

    await eventually(partner_sees_issued, what="issued at intake")
