"""What intake tells the other services, and what it shows the partner of their news."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from corroborate.auth import Role
from corroborate.crypto import KeyRing
from corroborate.events.contracts import (
    CASE_EVENTS,
    AppointmentBooked,
    InformationProvided,
    InformationRequested,
    ReferralAcknowledged,
    ReferralDeclined,
    ReferralSubmitted,
    ReferralWaitlisted,
    ReferralWithdrawn,
    open_details,
    open_text,
    seal_text,
)
from corroborate.events.envelope import EventEnvelope, new_event, read_event
from corroborate_testing import Receiver
from intake.domain.webhooks import verify_signature

pytestmark = pytest.mark.integration

Headers = dict[str, str]
Create = Callable[..., Awaitable[dict[str, Any]]]
Upload = Callable[..., Awaitable[httpx.Response]]
WaitUntil = Callable[..., Awaitable[Any]]
Spy = Callable[..., Awaitable[dict[str, bytes]]]


@pytest.fixture
def submitted(
    intake: httpx.AsyncClient,
    partner: Headers,
    create_referral: Create,
    upload: Upload,
    document: bytes,
) -> Callable[[], Awaitable[str]]:
    async def make() -> str:
        case_id: str = (await create_referral())["case_id"]
        assert (await upload(case_id, document)).status_code == 201
        response = await intake.post(f"/referrals/{case_id}/submit", headers=partner)
        assert response.status_code == 200, response.text
        return case_id

    return make


async def _publish(app: FastAPI, payload: BaseModel, case_id: str) -> EventEnvelope:
    event = new_event(
        payload=payload,
        case_id=uuid.UUID(case_id),
        producer="review",
        correlation_id=uuid.uuid4(),
        registry=CASE_EVENTS,
    )
    await app.state.runtime.publisher.publish(event)
    return event


def _view_waiter(
    intake: httpx.AsyncClient, partner: Headers, wait_until: WaitUntil
) -> Callable[[str, str], Awaitable[dict[str, Any]]]:
    async def until(case_id: str, status: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            view: dict[str, Any] = (
                await intake.get(f"/referrals/{case_id}", headers=partner)
            ).json()
            return view if view["status"] == status else None

        found: dict[str, Any] = await wait_until(probe, what=status)
        return found

    return until


async def test_the_submission_tells_triage_what_it_needs_and_seals_identity(
    submitted: Callable[[], Awaitable[str]],
    spy: Spy,
    keyring: KeyRing,
    survivor_identity: dict[str, str],
) -> None:
    case_id = await submitted()
    body = (await spy(case_id, {"referral.submitted"}))["referral.submitted"]

    for value in (*survivor_identity.values(), "+44 7700 900123", "referrals@example.org"):
        assert value.encode() not in body
    envelope, payload = read_event(body, registry=CASE_EVENTS)
    assert isinstance(payload, ReferralSubmitted)
    assert payload.risk_flags == ["detained"]
    assert payload.detention.detained is True
    assert payload.detention.place == "Harmondsworth IRC"
    assert payload.immigration_stage == "refused"
    assert payload.key_dates.decision == date(2026, 9, 30)
    assert payload.needs is not None
    assert payload.needs.languages == ["ti"]
    assert payload.needs.interpreter_gender == "male"
    assert payload.age_band == "36-45"
    assert payload.allegations is not None
    assert payload.allegations.methods == ["beating", "stress_positions"]
    assert payload.allegations.period_start == "2023-02"
    assert "torture_methods@" in payload.allegations.vocabulary_version
    protected = open_details(payload.protected, case_id=envelope.case_id, keyring=keyring)
    assert protected.full_name == survivor_identity["full_name"]
    assert protected.survivor_contact is not None
    assert protected.survivor_contact.phone == "+44 7700 900123"
    assert protected.representative is not None
    assert protected.representative.email == "referrals@example.org"


async def test_the_partner_follows_triage_news_with_deadlines_and_reasons(
    intake_app: FastAPI,
    intake: httpx.AsyncClient,
    partner: Headers,
    submitted: Callable[[], Awaitable[str]],
    keyring: KeyRing,
    wait_until: WaitUntil,
) -> None:
    until = _view_waiter(intake, partner, wait_until)
    case_id = await submitted()
    now = datetime.now(UTC)
    key = keyring.new_data_key()

    await _publish(
        intake_app,
        ReferralAcknowledged(acknowledged_at=now, response_due=date(2026, 12, 3)),
        case_id,
    )
    view = await until(case_id, "acknowledged")
    assert view["deadline"] == "2026-12-03"
    await _publish(
        intake_app, ReferralWaitlisted(waitlisted_by="coord-1", waitlisted_at=now), case_id
    )
    await until(case_id, "waitlisted")
    reason = seal_text(
        "Outside our remit: the harm described is not torture as defined.",
        case_id=uuid.UUID(case_id),
        key=key,
        purpose="decline-reason",
    )
    await _publish(
        intake_app, ReferralDeclined(reason=reason, declined_by="coord-1", declined_at=now), case_id
    )
    view = await until(case_id, "declined")

    assert [c["status"] for c in view["timeline"]] == [
        "submitted",
        "acknowledged",
        "waitlisted",
        "declined",
    ]
    assert view["timeline"][-1]["note"].startswith("Outside our remit")
    withdraw = await intake.post(
        f"/referrals/{case_id}/withdraw", json={"reason": "too late"}, headers=partner
    )
    assert withdraw.status_code == 409


async def test_a_question_from_triage_is_answered_with_documents(
    intake_app: FastAPI,
    intake: httpx.AsyncClient,
    partner: Headers,
    submitted: Callable[[], Awaitable[str]],
    upload: Upload,
    document: bytes,
    keyring: KeyRing,
    spy: Spy,
    wait_until: WaitUntil,
) -> None:
    until = _view_waiter(intake, partner, wait_until)
    case_id = await submitted()
    request_id = uuid.uuid4()
    question = seal_text(
        "Please send the interview record.",
        case_id=uuid.UUID(case_id),
        key=keyring.new_data_key(),
        purpose="information-request",
    )
    await _publish(
        intake_app,
        InformationRequested(
            request_id=request_id,
            question=question,
            requested_by="coord-1",
            requested_at=datetime.now(UTC),
        ),
        case_id,
    )
    view = await until(case_id, "information_requested")
    assert view["open_request"] == str(request_id)
    assert view["timeline"][-1]["note"] == "Please send the interview record."

    attached = await upload(case_id, document, kind="interview_record")
    assert attached.status_code == 201, attached.text
    wrong = await intake.post(
        f"/referrals/{case_id}/information",
        json={"request_id": str(uuid.uuid4()), "answer": "Here it is."},
        headers=partner,
    )
    assert wrong.status_code == 409
    answered = await intake.post(
        f"/referrals/{case_id}/information",
        json={
            "request_id": str(request_id),
            "answer": "Here it is, with the client's statement.",
            "document_ids": [attached.json()["document_id"]],
        },
        headers=partner,
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "information_provided"
    assert answered.json()["open_request"] is None
    closed = await upload(case_id, document, kind="other")
    assert closed.status_code == 409

    body = (await spy(case_id, {"referral.information_provided"}))["referral.information_provided"]
    assert b"client's statement" not in body
    envelope, payload = read_event(body, registry=CASE_EVENTS)
    assert isinstance(payload, InformationProvided)
    assert payload.request_id == request_id
    assert [str(d.document_id) for d in payload.documents] == [attached.json()["document_id"]]
    answer = open_text(
        payload.answer, case_id=envelope.case_id, keyring=keyring, purpose="information-answer"
    )
    assert answer == "Here it is, with the client's statement."


async def test_withdrawal_is_told_to_everyone_with_the_reason_sealed(
    intake_app: FastAPI,
    intake: httpx.AsyncClient,
    partner: Headers,
    submitted: Callable[[], Awaitable[str]],
    keyring: KeyRing,
    spy: Spy,
    wait_until: WaitUntil,
) -> None:
    until = _view_waiter(intake, partner, wait_until)
    case_id = await submitted()
    reason = "The client has been granted leave to remain."

    withdrawn = await intake.post(
        f"/referrals/{case_id}/withdraw", json={"reason": reason}, headers=partner
    )

    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    assert withdrawn.json()["timeline"][-1]["note"] == reason
    body = (await spy(case_id, {"referral.withdrawn"}))["referral.withdrawn"]
    assert reason.encode() not in body
    envelope, payload = read_event(body, registry=CASE_EVENTS)
    assert isinstance(payload, ReferralWithdrawn)
    assert payload.withdrawn_by == "solicitor-1"
    assert (
        open_text(
            payload.reason, case_id=envelope.case_id, keyring=keyring, purpose="withdrawal-reason"
        )
        == reason
    )
    # News from downstream after withdrawal changes nothing.
    late = await _publish(
        intake_app,
        AppointmentBooked(
            appointment_id=uuid.uuid4(),
            appointment_on=date(2027, 1, 5),
            remote=False,
            booked_at=datetime.now(UTC),
        ),
        case_id,
    )
    view = await until(case_id, "withdrawn")
    assert str(late.event_id) not in json.dumps(view)
    assert [c["status"] for c in view["timeline"]] == ["submitted", "withdrawn"]


async def test_a_draft_withdrawn_is_never_announced(
    intake: httpx.AsyncClient, partner: Headers, create_referral: Create, referrals: Any
) -> None:
    case_id = (await create_referral())["case_id"]
    withdrawn = await intake.post(
        f"/referrals/{case_id}/withdraw", json={"reason": "Made in error."}, headers=partner
    )
    assert withdrawn.status_code == 200
    stored = await referrals.find_one({"_id": case_id})
    assert stored["status"] == "withdrawn"
    assert stored["outbox"] == []
    assert b"Made in error" not in json.dumps(stored, default=str).encode()


async def test_every_status_change_makes_one_partner_notification(
    intake_app: FastAPI,
    intake: httpx.AsyncClient,
    partner: Headers,
    submitted: Callable[[], Awaitable[str]],
    referrals: Any,
    wait_until: WaitUntil,
) -> None:
    until = _view_waiter(intake, partner, wait_until)
    case_id = await submitted()
    ack = await _publish(
        intake_app,
        ReferralAcknowledged(acknowledged_at=datetime.now(UTC), response_due=date(2026, 12, 3)),
        case_id,
    )
    await until(case_id, "acknowledged")
    await intake_app.state.runtime.publisher.publish(ack)  # redelivered: no second notice
    deliveries = referrals.database["webhook_deliveries"]

    async def both() -> list[dict[str, Any]] | None:
        found = [d async for d in deliveries.find({"case_id": case_id}).sort("occurred_at", 1)]
        return found if len(found) >= 2 else None

    found = await wait_until(both, what="two notifications")
    stored = await referrals.find_one({"_id": case_id})
    assert stored["pending_notifications"] == []
    assert [d["status"] for d in found] == ["submitted", "acknowledged"]
    assert found[1]["_id"] == str(ack.event_id)
    assert {d["state"] for d in found} == {"no_endpoint"}  # this organisation registered none


async def test_a_registered_webhook_hears_of_each_change_signed_and_without_identity(
    intake_app: FastAPI,
    intake: httpx.AsyncClient,
    partner: Headers,
    bearer: Callable[..., Headers],
    org: str,
    submitted: Callable[[], Awaitable[str]],
    survivor_identity: dict[str, str],
    wait_until: WaitUntil,
    referrals: Any,
) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        secret = "a-partner-webhook-secret-of-32-chars-or-more"
        admin = bearer(Role.ADMIN, sub="admin-1")
        registered = await intake.put(
            f"/organisations/{org}/webhook",
            json={"url": receiver.url, "secret": secret},
            headers=admin,
        )
        assert registered.status_code == 200, registered.text
        case_id = await submitted()
        await _publish(
            intake_app,
            ReferralAcknowledged(acknowledged_at=datetime.now(UTC), response_due=date(2026, 12, 3)),
            case_id,
        )

        async def two() -> bool:
            return len(receiver.requests) >= 2

        await wait_until(two, what="two webhook posts")

        async def both_recorded() -> bool:
            history = await intake.get("/webhook/deliveries", headers=partner)
            return [d["state"] for d in history.json()["deliveries"]] == ["delivered"] * 2

        # The receiver answers before the dispatcher records the outcome.
        await wait_until(both_recorded, what="both deliveries recorded as delivered")
        stored = await referrals.find_one({"_id": case_id})
        assert stored["pending_notifications"] == []
        assert stored["notifications_pending"] is False  # the dispatcher's index finds none
    finally:
        await receiver.stop()

    assert [r.json["status"] for r in receiver.requests] == ["submitted", "acknowledged"]
    for request in receiver.requests:
        assert set(request.json) == {"delivery_id", "case_reference", "status", "occurred_at"}
        assert verify_signature(
            secret.encode(),
            request.headers["corroborate-signature"],
            request.body,
            now=datetime.now(UTC),
        )
        for value in survivor_identity.values():
            assert value.encode() not in request.body
