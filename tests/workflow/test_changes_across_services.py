"""Legal asks for changes; the same clinician revises; peer review approves again; legal sees
what changed and issues: the loop across reporting and review, and the partner's view of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from corroborate.auth import Role
from corroborate.walk.samples import minimal_pdf, roster_entry, sample_findings, sample_referral
from corroborate.walk.steps import People, ReferralWalk, put_on_roster
from corroborate_testing import TEST_PACE, eventually, in_process

pytestmark = pytest.mark.integration

Headers = dict[str, str]


async def test_changes_requested_by_legal_go_round_and_come_back_with_the_difference(
    services: dict[str, httpx.AsyncClient], bearer: Callable[..., Headers]
) -> None:
    reporting = services["reporting"]
    coordinator = bearer(Role.COORDINATOR, sub="coordinator-l")
    clinician = bearer(Role.CLINICIAN, sub="dr-loop")
    legal = bearer(Role.LEGAL, sub="legal-l")
    walk = ReferralWalk(
        in_process(services),
        People(
            partner=bearer(Role.PARTNER, org="loop-solicitors", sub="solicitor-l"),
            coordinator=coordinator,
            clinicians={"dr-loop": clinician},
            senior=bearer(Role.SENIOR_CLINICIAN, sub="senior-loop"),
            legal=legal,
        ),
        pace=TEST_PACE,
    )
    await walk.draft(sample_referral("Loop Person"))
    await walk.upload(minimal_pdf("x"))
    await walk.submit()
    await walk.reaches_triage()
    for who, is_senior in (("dr-loop", False), ("senior-loop", True)):
        entry = roster_entry(who, senior=is_senior)
        await put_on_roster(walk.services.review, coordinator, who, entry)
    await walk.accept()
    await walk.assign("dr-loop")
    await walk.assess(sample_findings())
    await walk.approve()
    await walk.reaches_legal_review()
    case_id = walk.case_id
    sent_back = await reporting.post(
        f"/legal-reviews/{case_id}/changes",
        json={"comments": "Answer the question on the scars directly."},
        headers=legal,
    )
    assert sent_back.status_code == 200, sent_back.text

    async def reopened() -> dict[str, Any] | None:
        case = await walk.case(clinician)
        return case if case is not None and case["status"] == "assigned" else None

    case = await eventually(reopened, what="reopened for the clinician")
    assert case["notes"][-1]["verdict"] == "legal_changes_requested"
    assert case["notes"][-1]["comments"] == "Answer the question on the scars directly."

    await walk.record_findings(sample_findings() | {"conclusions": "Highly consistent, as asked."})
    await walk.submit_draft()
    await walk.approve()

    view = await walk.reaches_legal_review(status="awaiting_legal_review")
    assert view["changed"] == ["conclusions"]
    await walk.sign_off()
    await walk.partner_sees_issued()
