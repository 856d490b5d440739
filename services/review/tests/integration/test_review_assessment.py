"""The assessment record and clinical peer review, against the real servers."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from corroborate.auth import Role
from corroborate.crypto import KeyRing
from corroborate.events.contracts import (
    CASE_EVENTS,
    ReferralWithdrawn,
    ReportChangesRequested,
    seal_text,
)
from corroborate.events.envelope import EventEnvelope, new_event
from corroborate.walk.samples import minimal_pdf

pytestmark = pytest.mark.integration

Headers = dict[str, str]
Spy = Callable[..., Awaitable[dict[str, bytes]]]
FindingsBody = Callable[..., dict[str, Any]]
WaitUntil = Callable[..., Awaitable[Any]]


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 150, 120)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def ready(
    assigned: Callable[..., Awaitable[EventEnvelope]],
    examined: Callable[[str], Awaitable[str]],
) -> Callable[[], Awaitable[tuple[str, str]]]:
    """An assigned case with an appointment and consents recorded: (case id, appointment id)."""

    async def make() -> tuple[str, str]:
        case = str((await assigned()).case_id)
        return case, await examined(case)

    return make


async def test_an_appointment_is_announced_and_consents_are_recorded_per_appointment(
    review: httpx.AsyncClient,
    clinician: Headers,
    clinician_id: str,
    ready: Callable[[], Awaitable[tuple[str, str]]],
    spy: Spy,
) -> None:
    case, appointment = await ready()
    view = (await review.get(f"/cases/{case}", headers=clinician)).json()
    (booked,) = view["appointments"]
    assert booked["appointment_id"] == appointment
    assert booked["interpreter_language"] == "ti"
    assert booked["examination_consent"]["given"] is True
    assert booked["examination_consent"]["recorded_by"] == clinician_id
    assert booked["photography_consent"]["given"] is True
    event = json.loads((await spy(case, {"appointment.booked"}))["appointment.booked"])
    assert event["payload"]["appointment_id"] == appointment


async def test_photographs_need_consent_to_photography_and_must_be_images(
    review: httpx.AsyncClient,
    coordinator: Headers,
    clinician: Headers,
    assigned: Callable[..., Awaitable[EventEnvelope]],
) -> None:
    case = str((await assigned()).case_id)
    booked = await review.post(
        f"/cases/{case}/appointments",
        json={"on": datetime.now(UTC).date().isoformat(), "remote": False},
        headers=coordinator,
    )
    appointment = booked.json()["appointments"][-1]["appointment_id"]
    await review.put(
        f"/cases/{case}/appointments/{appointment}/consent",
        json={"examination": True, "photography": False},
        headers=clinician,
    )
    url = f"/cases/{case}/photographs"

    refused = await review.post(
        url, params={"appointment_id": appointment}, content=_png(), headers=clinician
    )
    assert refused.status_code == 409
    assert "no consent to photography" in refused.json()["detail"]

    await review.put(
        f"/cases/{case}/appointments/{appointment}/consent",
        json={"photography": True},
        headers=clinician,
    )
    not_an_image = await review.post(
        url, params={"appointment_id": appointment}, content=minimal_pdf("x"), headers=clinician
    )
    taken = await review.post(
        url, params={"appointment_id": appointment}, content=_png(), headers=clinician
    )

    assert not_an_image.status_code == 415
    assert taken.status_code == 201, taken.text
    view = (await review.get(f"/cases/{case}", headers=clinician)).json()
    assert [p["photograph_id"] for p in view["photographs"]] == [taken.json()["photograph_id"]]


async def test_findings_that_name_the_survivor_are_refused_by_field(
    review: httpx.AsyncClient,
    clinician: Headers,
    assigned: Callable[..., Awaitable[EventEnvelope]],
    findings_body: FindingsBody,
    survivor_name: str,
) -> None:
    case = str((await assigned()).case_id)
    body = findings_body()
    body["lesions"][0]["description"] = f"Scars on {survivor_name.upper()}'s back."

    response = await review.put(f"/cases/{case}/findings", json=body, headers=clinician)

    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "lesions.0.description"
    assert survivor_name not in response.text
    unknown_region = findings_body()
    unknown_region["lesions"][0]["region"] = "left_wing"
    bad = await review.put(f"/cases/{case}/findings", json=unknown_region, headers=clinician)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "lesions.0.region"


async def test_peer_review_returns_then_approves_and_versions_show_the_changes(
    review: httpx.AsyncClient,
    bearer: Callable[..., Headers],
    clinician: Headers,
    clinician_id: str,
    senior: Headers,
    ready: Callable[[], Awaitable[tuple[str, str]]],
    findings_body: FindingsBody,
    spy: Spy,
) -> None:
    case, _ = await ready()
    not_yet = await review.get(f"/cases/{case}", headers=senior)
    assert not_yet.status_code == 404  # a senior sees drafts in peer review, not every case
    await review.put(f"/cases/{case}/findings", json=findings_body(), headers=clinician)
    assert (
        await review.post(f"/cases/{case}/findings/submit", headers=clinician)
    ).status_code == 200

    queue = (await review.get("/peer-review", headers=senior)).json()
    assert case in {c["case_id"] for c in queue}
    by_author = await review.post(
        f"/cases/{case}/peer-review",
        json={"verdict": "approve"},
        headers=bearer(Role.SENIOR_CLINICIAN, sub=clinician_id),
    )
    assert by_author.status_code == 409
    as_clinician = await review.post(
        f"/cases/{case}/peer-review", json={"verdict": "approve"}, headers=clinician
    )
    assert as_clinician.status_code == 403
    returned = await review.post(
        f"/cases/{case}/peer-review",
        json={"verdict": "return", "comments": "Give the size of each scar."},
        headers=senior,
    )
    assert returned.json()["status"] == "assigned"

    revised = findings_body(conclusions="Revised after peer review.")
    revised["lesions"][0]["size_mm"] = 85
    await review.put(f"/cases/{case}/findings", json=revised, headers=clinician)
    await review.post(f"/cases/{case}/findings/submit", headers=clinician)
    approved = await review.post(
        f"/cases/{case}/peer-review", json={"verdict": "approve"}, headers=senior
    )

    view = approved.json()
    assert (await review.get(f"/cases/{case}", headers=senior)).status_code == 200  # reviewed it
    assert view["status"] == "review_completed"
    assert view["approved_by"] is not None
    assert [v["changed"] for v in view["versions"]] == [
        ["(first version)"],
        ["lesions.1", "conclusions"],
    ]
    assert [(n["verdict"], n["comments"]) for n in view["notes"]] == [
        ("returned", "Give the size of each scar."),
        ("approved", ""),
    ]
    completed = json.loads((await spy(case, {"review.completed"}))["review.completed"])
    assert completed["payload"]["findings"]["conclusions"] == "Revised after peer review."


async def test_changes_requested_by_legal_reopen_the_draft_and_go_through_peer_review_again(
    review_app: FastAPI,
    review: httpx.AsyncClient,
    clinician: Headers,
    senior: Headers,
    ready: Callable[[], Awaitable[tuple[str, str]]],
    findings_body: FindingsBody,
    keyring: KeyRing,
    wait_until: WaitUntil,
) -> None:
    case, _ = await ready()
    await review.put(f"/cases/{case}/findings", json=findings_body(), headers=clinician)
    await review.post(f"/cases/{case}/findings/submit", headers=clinician)
    await review.post(f"/cases/{case}/peer-review", json={"verdict": "approve"}, headers=senior)
    comments = "Please answer the question on the scars directly."
    sealed = seal_text(
        comments, case_id=uuid.UUID(case), key=keyring.new_data_key(), purpose="legal-comments"
    )
    await review_app.state.runtime.publisher.publish(
        new_event(
            payload=ReportChangesRequested(
                comments=sealed, requested_by="legal-1", requested_at=datetime.now(UTC)
            ),
            case_id=uuid.UUID(case),
            producer="reporting",
            correlation_id=uuid.uuid4(),
            registry=CASE_EVENTS,
        )
    )

    async def reopened() -> dict[str, Any] | None:
        view: dict[str, Any] = (await review.get(f"/cases/{case}", headers=clinician)).json()
        return view if view["status"] == "assigned" else None

    view = await wait_until(reopened, what="reopened for the clinician")
    assert view["notes"][-1] == {**view["notes"][-1], "verdict": "legal_changes_requested"}
    assert view["notes"][-1]["comments"] == comments
    await review.put(
        f"/cases/{case}/findings", json=findings_body(conclusions="Answered."), headers=clinician
    )
    resubmitted = await review.post(f"/cases/{case}/findings/submit", headers=clinician)
    assert resubmitted.json()["status"] == "in_peer_review"


async def test_a_referral_withdrawn_mid_assessment_stops_the_work(
    review_app: FastAPI,
    review: httpx.AsyncClient,
    clinician: Headers,
    ready: Callable[[], Awaitable[tuple[str, str]]],
    findings_body: FindingsBody,
    keyring: KeyRing,
    wait_until: WaitUntil,
) -> None:
    case, _ = await ready()
    reason = seal_text(
        "Leave granted.", case_id=uuid.UUID(case), key=keyring.new_data_key(), purpose="x"
    )
    await review_app.state.runtime.publisher.publish(
        new_event(
            payload=ReferralWithdrawn(
                reason=reason, withdrawn_by="solicitor-1", withdrawn_at=datetime.now(UTC)
            ),
            case_id=uuid.UUID(case),
            producer="intake",
            correlation_id=uuid.uuid4(),
            registry=CASE_EVENTS,
        )
    )

    async def withdrawn() -> bool:
        view = (await review.get(f"/cases/{case}", headers=clinician)).json()
        return bool(view["status"] == "withdrawn")

    await wait_until(withdrawn, what="withdrawn")
    refused = await review.put(f"/cases/{case}/findings", json=findings_body(), headers=clinician)
    assert refused.status_code == 409
    assert refused.json()["detail"] == "the case is withdrawn: it cannot be given findings"
