"""Erasure by destroying the case's data key, everywhere; refused under a legal-claims hold;
anonymised counts kept; the act audited without identity."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import httpx
import pytest
from pymongo import AsyncMongoClient

from corroborate.auth import Role
from corroborate.messaging.parked import discard_parked, list_parked
from corroborate.settings import Settings
from corroborate.walk.samples import minimal_pdf, roster_entry, sample_findings, sample_referral
from corroborate.walk.steps import People, ReferralWalk, put_on_roster
from corroborate_testing import SERVICES, TEST_PACE, eventually, in_process

pytestmark = pytest.mark.integration

Headers = dict[str, str]
CANARY = "Erasure Canary-Person"


async def _issued_case(
    clients: dict[str, httpx.AsyncClient], bearer: Callable[..., Headers]
) -> tuple[str, str, str]:
    """A referral walked to an issued report: (case id, document id, report download URL)."""
    partner = bearer(Role.PARTNER, org="erasure-solicitors", sub="solicitor-e")
    coordinator = bearer(Role.COORDINATOR, sub="coordinator-e")
    people = People(
        partner=partner,
        coordinator=coordinator,
        clinicians={"dr-erasure": bearer(Role.CLINICIAN, sub="dr-erasure")},
        senior=bearer(Role.SENIOR_CLINICIAN, sub="senior-erasure"),
        legal=bearer(Role.LEGAL, sub="legal-e"),
    )
    services = in_process(clients)
    walk = ReferralWalk(services, people, pace=TEST_PACE)
    await walk.draft(sample_referral(CANARY))
    document = await walk.upload(minimal_pdf("erasure evidence"))
    await walk.submit()
    await walk.reaches_triage()
    for who, is_senior in (("dr-erasure", False), ("senior-erasure", True)):
        await put_on_roster(services.review, coordinator, who, roster_entry(who, senior=is_senior))
    await walk.accept()
    await walk.assign("dr-erasure")
    await walk.assess(sample_findings())
    await walk.approve()
    await walk.reaches_legal_review()
    await walk.sign_off()
    link = await clients["reporting"].post(f"/cases/{walk.case_id}/report/link", headers=partner)
    assert link.status_code == 200, link.text
    return str(walk.case_id), document["document_id"], link.json()["url"]


async def test_erasure_destroys_the_key_everywhere_and_keeps_the_counts(
    services: dict[str, httpx.AsyncClient],
    settings: Settings,
    bearer: Callable[..., Headers],
) -> None:
    intake, review, reporting = services["intake"], services["review"], services["reporting"]
    case_id, document_id, report_url = await _issued_case(services, bearer)
    partner = bearer(Role.PARTNER, org="erasure-solicitors", sub="solicitor-e")
    admin = bearer(Role.ADMIN, sub="admin-e")
    assert (await reporting.get(report_url, headers=partner)).status_code == 200
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value()
    )
    patterns = client[settings.database_name("reporting")]["patterns"]
    counted_before = await patterns.count_documents({})

    held = await intake.put(
        f"/cases/{case_id}/legal-hold", json={"reason": "Claim pending."}, headers=admin
    )
    assert held.json()["legal_hold"] is True
    refused = await intake.post(
        f"/cases/{case_id}/erasure", json={"reason": "retention_expired"}, headers=admin
    )
    assert refused.status_code == 409
    assert "legal-claims hold" in refused.json()["detail"]
    assert (await intake.delete(f"/cases/{case_id}/legal-hold", headers=admin)).status_code == 200
    by_partner = await intake.post(
        f"/cases/{case_id}/erasure", json={"reason": "retention_expired"}, headers=partner
    )
    assert by_partner.status_code == 403
    erased = await intake.post(
        f"/cases/{case_id}/erasure", json={"reason": "retention_expired"}, headers=admin
    )
    assert erased.status_code == 200, erased.text
    assert erased.json()["status"] == "erased"

    coordinator = bearer(Role.COORDINATOR, sub="coordinator-e")
    legal = bearer(Role.LEGAL, sub="legal-e")

    async def erased_everywhere() -> bool:
        case = (await review.get(f"/cases/{case_id}", headers=coordinator)).json()
        legal_view = (await reporting.get(f"/legal-reviews/{case_id}", headers=legal)).json()
        return bool(case["status"] == "erased" and legal_view["status"] == "erased")

    await eventually(erased_everywhere, what="erased in review and reporting")
    try:
        for service, collection in (
            ("intake", "referrals"),
            ("review", "cases"),
            ("reporting", "legal_reviews"),
        ):
            stored = await client[settings.database_name(service)][collection].find_one(
                {"_id": case_id}
            )
            dumped = json.dumps(stored, default=str)
            assert '"key_id"' not in dumped, f"{service} still holds a data key"
        audit = client[settings.database_name("intake")]["audit_log"]
        record = await audit.find_one({"case_id": case_id, "action": "case.erased"})
        assert record is not None
        assert record["details"] == {"reason": "retention_expired"}
        assert CANARY not in json.dumps(
            [r async for r in audit.find({"case_id": case_id})], default=str
        )
        assert await patterns.count_documents({}) == counted_before  # the counts stay
    finally:
        await client.close()

    view = await intake.get(f"/referrals/{case_id}", headers=partner)
    assert view.status_code == 200
    assert view.json()["status"] == "erased"
    assert view.json()["details"] == {}
    gone = await intake.get(f"/referrals/{case_id}/documents/{document_id}", headers=partner)
    assert gone.status_code == 410
    assert (await intake.get(f"/referrals/{case_id}/report", headers=partner)).status_code == 410
    assert (await reporting.get(report_url, headers=partner)).status_code == 410


async def test_erasure_removes_the_cases_parked_messages_in_every_service(
    services: dict[str, httpx.AsyncClient],
    settings: Settings,
    bearer: Callable[..., Headers],
) -> None:
    """A parked message about the case may hold its sealed details with a wrapped data key:
    after erasure none is left in any parking queue; other cases' parked messages stay."""
    partner = bearer(Role.PARTNER, org="erasure-solicitors", sub="solicitor-e")
    admin = bearer(Role.ADMIN, sub="admin-e")
    case_id = (
        await services["intake"].post("/referrals", json=sample_referral(CANARY), headers=partner)
    ).json()["case_id"]
    other_case = str(uuid.uuid4())

    async def counts() -> dict[str, int]:
        # A passive declaration takes no message, so it cannot race the services' own sweeps
        # (listing does: a message a listing holds is invisible to a sweep at that moment).
        async with await aio_pika.connect(settings.amqp_url.get_secret_value()) as connection:
            channel = await connection.channel()
            found = {}
            for service in SERVICES:
                queue = await channel.declare_queue(
                    f"{settings.namespace}.{service}.parking", passive=True
                )
                found[service] = queue.declaration_result.message_count or 0
            return found

    def settled_at(expected: Callable[[str], int]) -> Callable[[], Awaitable[bool]]:
        seen: list[dict[str, int]] = []

        async def probe() -> bool:  # the same counts twice running: no sweep under way
            seen.append(await counts())
            return len(seen) > 1 and all(
                seen[-1][s] == seen[-2][s] == expected(s) for s in SERVICES
            )

        return probe

    before = await counts()
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        dead_letter = await channel.get_exchange(f"{settings.namespace}.dead-letter")
        for service in SERVICES:
            for about in (case_id, other_case):
                body = json.dumps({"event_id": str(uuid.uuid4()), "case_id": about}).encode()
                await dead_letter.publish(
                    aio_pika.Message(body, headers={"x-parked-reason": "erasure-test"}),
                    routing_key=f"{service}.parking",
                )
    await eventually(settled_at(lambda s: before[s] + 2), what="both messages parked")

    erased = await services["intake"].post(
        f"/cases/{case_id}/erasure", json={"reason": "data_subject_request"}, headers=admin
    )
    assert erased.status_code == 200, erased.text
    await eventually(settled_at(lambda s: before[s] + 1), what="the case's parked messages removed")
    for service in SERVICES:
        parked = {p.case_id for p in await list_parked(settings, service)}
        assert case_id not in parked
        assert other_case in parked
    for service in SERVICES:
        await discard_parked(settings, service, case_id=other_case)  # leave the queues clean
