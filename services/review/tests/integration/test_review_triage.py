"""Referrals arrive from the bus into the triage queue; only coordinators work it."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from corroborate.auth import Role
from corroborate.events.contracts import RiskFlag
from corroborate.events.envelope import EventEnvelope
from corroborate.settings import Settings
from corroborate.walk.samples import ACCEPT

pytestmark = pytest.mark.integration

Headers = dict[str, str]
Build = Callable[..., EventEnvelope]
Publish = Callable[[EventEnvelope], Awaitable[None]]
Find = Callable[[str], Awaitable[dict[str, Any] | None]]
WaitUntil = Callable[..., Awaitable[Any]]


async def test_a_referral_delivered_twice_opens_exactly_one_triage_item(
    review: httpx.AsyncClient,
    coordinator: Headers,
    submitted_event: Build,
    publish: Publish,
    wait_until: WaitUntil,
) -> None:
    event = submitted_event(RiskFlag.DETAINED)
    case_id = str(event.case_id)
    await publish(event)
    await publish(event)  # a redelivery: same event id, same case
    marker = submitted_event()
    await publish(marker)

    async def both_handled() -> list[dict[str, Any]] | None:
        queue = (await review.get("/triage", headers=coordinator)).json()
        ids = [i["case_id"] for i in queue]
        return queue if str(marker.case_id) in ids and case_id in ids else None

    queue = await wait_until(both_handled, what="both referrals in triage")
    items = [i for i in queue if i["case_id"] == case_id]
    assert len(items) == 1
    assert items[0]["reference"] == event.payload["reference"]
    assert items[0]["service_requested"] == "full_report"
    assert items[0]["reasons"] == ["detained"]


async def test_the_queue_puts_the_most_urgent_first(
    review: httpx.AsyncClient,
    coordinator: Headers,
    submitted_event: Build,
    publish: Publish,
    in_triage: Find,
    wait_until: WaitUntil,
) -> None:
    plain = submitted_event()
    detained = submitted_event(RiskFlag.DETAINED)
    suicide = submitted_event(RiskFlag.SUICIDE_OR_SELF_HARM_RISK)
    for event in (plain, detained, suicide):
        await publish(event)
    for event in (plain, detained, suicide):
        await wait_until(lambda e=event: in_triage(str(e.case_id)), what="in triage")

    queue = (await review.get("/triage", headers=coordinator)).json()
    ours = {str(e.case_id) for e in (plain, detained, suicide)}
    mine = [i for i in queue if i["case_id"] in ours]
    assert [i["case_id"] for i in mine] == [
        str(suicide.case_id),
        str(detained.case_id),
        str(plain.case_id),
    ]
    assert mine[0]["urgency"] > mine[1]["urgency"] > mine[2]["urgency"]
    assert mine[0]["reasons"] == ["suicide or self harm risk"]


async def test_the_case_is_stored_without_identity_in_clear(
    settings: Settings,
    submitted_event: Build,
    publish: Publish,
    in_triage: Find,
    wait_until: WaitUntil,
    survivor_name: str,
) -> None:
    event = submitted_event()
    await publish(event)
    await wait_until(lambda: in_triage(str(event.case_id)), what="in triage")

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value()
    )
    try:
        stored = await client[settings.database_name("review")]["cases"].find_one(
            {"_id": str(event.case_id)}
        )
    finally:
        await client.close()
    assert stored is not None
    dumped = json.dumps(stored, default=str)
    assert survivor_name not in dumped
    assert "HO-CANARY-4410" not in dumped
    assert "1990-02-17" not in dumped
    assert stored["protected"]["ciphertext"] == event.payload["protected"]["ciphertext"]


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.PARTNER, Role.LEGAL])
async def test_coordinator_endpoints_refuse_other_roles(
    review: httpx.AsyncClient,
    bearer: Callable[..., Headers],
    submitted_event: Build,
    publish: Publish,
    in_triage: Find,
    wait_until: WaitUntil,
    role: Role,
) -> None:
    event = submitted_event()
    case_id = str(event.case_id)
    await publish(event)
    await wait_until(lambda: in_triage(case_id), what="in triage")
    caller = bearer(role, org="solicitors-a" if role is Role.PARTNER else None)

    triage = await review.get("/triage", headers=caller)
    decision = await review.post(f"/cases/{case_id}/decision", json=ACCEPT, headers=caller)
    assignment = await review.post(
        f"/cases/{case_id}/assignment", json={"clinician_id": "dr-x"}, headers=caller
    )

    assert (triage.status_code, decision.status_code, assignment.status_code) == (403, 403, 403)
    assert await in_triage(case_id) is not None  # still waiting for a coordinator


async def test_no_token_is_unauthorised(review: httpx.AsyncClient) -> None:
    assert (await review.get("/triage")).status_code == 401
    assert (await review.get("/cases/mine")).status_code == 401
