"""Accept, assign, record findings and submit: the events go out, and only the right people act."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from corroborate.auth import Role
from corroborate.crypto import KeyRing
from corroborate.events.contracts import SealedDetails, open_details
from corroborate.events.envelope import EventEnvelope
from corroborate.walk.samples import ACCEPT

pytestmark = pytest.mark.integration

Headers = dict[str, str]
Build = Callable[..., EventEnvelope]
Publish = Callable[[EventEnvelope], Awaitable[None]]
Find = Callable[[str], Awaitable[dict[str, Any] | None]]
WaitUntil = Callable[..., Awaitable[Any]]
Spy = Callable[..., Awaitable[dict[str, bytes]]]
FindingsBody = Callable[..., dict[str, Any]]


async def test_the_full_review_emits_accepted_assigned_and_completed(
    review: httpx.AsyncClient,
    coordinator: Headers,
    clinician: Headers,
    clinician_id: str,
    triaged: Callable[..., Awaitable[EventEnvelope]],
    findings_body: FindingsBody,
    spy: Spy,
    keyring: KeyRing,
    survivor_name: str,
    examined: Callable[[str], Awaitable[str]],
    senior: Headers,
) -> None:
    event = await triaged()
    case = str(event.case_id)

    decided = await review.post(f"/cases/{case}/decision", json=ACCEPT, headers=coordinator)
    given = await review.post(
        f"/cases/{case}/assignment", json={"clinician_id": clinician_id}, headers=coordinator
    )
    mine = await review.get("/cases/mine", headers=clinician)
    await examined(case)
    recorded = await review.put(f"/cases/{case}/findings", json=findings_body(), headers=clinician)
    done = await review.post(f"/cases/{case}/findings/submit", headers=clinician)
    approved = await review.post(
        f"/cases/{case}/peer-review", json={"verdict": "approve"}, headers=senior
    )

    assert decided.json()["status"] == "accepted"
    assert decided.json()["report_due"] is not None
    assert given.json()["clinician_id"] == clinician_id
    assert [c["case_id"] for c in mine.json()] == [case]
    assert recorded.json()["findings"]["lesions"][0]["consistency"] == "highly_consistent_with"
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "in_peer_review"
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "review_completed"

    emitted = await spy(case, {"referral.accepted", "case.assigned", "review.completed"})
    envelopes = {t: json.loads(body) for t, body in emitted.items()}
    assert {e["correlation_id"] for e in envelopes.values()} == {str(event.correlation_id)}
    assert {e["producer"] for e in envelopes.values()} == {"review"}
    assert envelopes["case.assigned"]["payload"]["clinician_id"] == clinician_id
    completed = envelopes["review.completed"]["payload"]
    assert completed["reference"] == event.payload["reference"]
    assert completed["clinician_name"] == "Dr Test"
    assert completed["approved_by"] == "Dr Senior"
    assert completed["findings"]["lesions"][0]["region"] == "upper_back"
    for body in emitted.values():
        assert survivor_name.encode() not in body
    sealed = SealedDetails.model_validate(completed["protected"])
    opened = open_details(sealed, case_id=event.case_id, keyring=keyring)
    assert opened.full_name == survivor_name  # reporting can still open it


async def test_a_clinician_not_assigned_cannot_find_the_case(
    review: httpx.AsyncClient,
    bearer: Callable[..., Headers],
    clinician: Headers,
    assigned: Callable[..., Awaitable[EventEnvelope]],
    findings_body: FindingsBody,
) -> None:
    case = str((await assigned()).case_id)
    other = bearer(Role.CLINICIAN, sub="dr-somebody-else")

    seen = await review.get(f"/cases/{case}", headers=other)
    recorded = await review.put(f"/cases/{case}/findings", json=findings_body(), headers=other)
    submitted = await review.post(f"/cases/{case}/findings/submit", headers=other)
    listed = await review.get("/cases/mine", headers=other)

    assert (seen.status_code, recorded.status_code, submitted.status_code) == (404, 404, 404)
    assert listed.json() == []
    view = (await review.get(f"/cases/{case}", headers=clinician)).json()
    assert view["findings"] is None


async def test_findings_with_an_unknown_consistency_level_name_the_field(
    review: httpx.AsyncClient,
    clinician: Headers,
    assigned: Callable[..., Awaitable[EventEnvelope]],
    findings_body: FindingsBody,
) -> None:
    case = str((await assigned()).case_id)
    body = findings_body(overall_consistency="probably")
    body["lesions"][0]["consistency"] = "somewhat_consistent"

    response = await review.put(f"/cases/{case}/findings", json=body, headers=clinician)

    assert response.status_code == 422
    fields = {e["field"]: e["rule"] for e in response.json()["errors"]}
    assert set(fields) == {"lesions.0.consistency", "overall_consistency"}
    assert (await review.get(f"/cases/{case}", headers=clinician)).json()["findings"] is None


async def test_steps_out_of_order_are_conflicts(
    review: httpx.AsyncClient,
    coordinator: Headers,
    clinician: Headers,
    triaged: Callable[..., Awaitable[EventEnvelope]],
    assigned: Callable[..., Awaitable[EventEnvelope]],
    findings_body: FindingsBody,
) -> None:
    fresh = str((await triaged()).case_id)
    early = await review.post(
        f"/cases/{fresh}/assignment", json={"clinician_id": "dr-1"}, headers=coordinator
    )
    assert early.status_code == 409

    case = str((await assigned()).case_id)
    again = await review.post(f"/cases/{case}/decision", json=ACCEPT, headers=coordinator)
    unrecorded = await review.post(f"/cases/{case}/findings/submit", headers=clinician)
    no_lesion = findings_body(lesions=[], answers=[])
    await review.put(f"/cases/{case}/findings", json=no_lesion, headers=clinician)
    incomplete = await review.post(f"/cases/{case}/findings/submit", headers=clinician)

    assert again.status_code == 409
    assert again.json()["detail"] == "the case is assigned: it cannot be accepted"
    assert unrecorded.status_code == 409
    assert incomplete.status_code == 422
    assert [(e["field"], e["rule"]) for e in incomplete.json()["errors"]] == [
        ("lesions", "required_for_peer_review"),
        ("answers", "required_for_peer_review"),
        ("appointments", "required_for_peer_review"),
    ]
    view = (await review.get(f"/cases/{case}", headers=coordinator)).json()
    assert view["status"] == "assigned"


async def test_unknown_case_is_not_found(
    review: httpx.AsyncClient, coordinator: Headers, findings_body: FindingsBody
) -> None:
    missing = uuid.uuid4()
    assert (await review.get(f"/cases/{missing}", headers=coordinator)).status_code == 404
    decided = await review.post(f"/cases/{missing}/decision", json=ACCEPT, headers=coordinator)
    assert decided.status_code == 404


async def test_the_roster_ranks_clinicians_and_reassignment_keeps_the_history(
    review: httpx.AsyncClient,
    coordinator: Headers,
    triaged: Callable[..., Awaitable[EventEnvelope]],
) -> None:
    suffix = str(uuid.uuid4())[:6]
    both, physical, away = f"both-{suffix}", f"phys-{suffix}", f"away-{suffix}"
    entries = {
        both: {"name": "Dr Both", "disciplines": ["physical", "psychological"], "capacity": 5},
        physical: {"name": "Dr Physical", "disciplines": ["physical"], "capacity": 5},
        away: {
            "name": "Dr Away",
            "disciplines": ["physical", "psychological"],
            "capacity": 5,
            "unavailable_from": "2020-01-01",
            "unavailable_until": "2099-01-01",
        },
    }
    for clinician, entry in entries.items():
        added = await review.put(f"/roster/{clinician}", json=entry, headers=coordinator)
        assert added.status_code == 200, added.text
    case = str((await triaged()).case_id)
    assert (
        await review.post(f"/cases/{case}/decision", json=ACCEPT, headers=coordinator)
    ).status_code == 200

    ranked = (await review.get(f"/cases/{case}/suggestions", headers=coordinator)).json()
    mine = [s for s in ranked if s["clinician_id"] in entries]
    assert [s["clinician_id"] for s in mine] == [both, physical, away]
    assert mine[2]["eligible"] is False
    assert any("on leave" in r for r in mine[2]["reasons"])

    first = await review.post(
        f"/cases/{case}/assignment", json={"clinician_id": both}, headers=coordinator
    )
    assert first.status_code == 200
    entries[both]["active"] = False  # Dr Both leaves the service
    assert (
        await review.put(f"/roster/{both}", json=entries[both], headers=coordinator)
    ).status_code == 200
    again = await review.post(
        f"/cases/{case}/assignment", json={"clinician_id": both}, headers=coordinator
    )
    assert again.status_code == 409
    stranger = await review.post(
        f"/cases/{case}/assignment", json={"clinician_id": "nobody"}, headers=coordinator
    )
    assert stranger.status_code == 422
    assert stranger.json()["errors"][0]["rule"] == "not_on_roster"
    moved = await review.post(
        f"/cases/{case}/assignment",
        json={"clinician_id": physical, "reason": "Dr Both has left the service."},
        headers=coordinator,
    )
    assert moved.status_code == 200, moved.text
    history = moved.json()["assignments"]
    assert [a["clinician_id"] for a in history] == [both, physical]
    assert history[1]["reason"] == "Dr Both has left the service."


async def test_a_roster_entry_with_a_backwards_leave_is_refused_by_field(
    review: httpx.AsyncClient, coordinator: Headers, bearer: Callable[..., Headers]
) -> None:
    entry = {
        "name": "Dr X",
        "disciplines": ["physical"],
        "capacity": 3,
        "unavailable_from": "2026-05-01",
        "unavailable_until": "2026-04-01",
    }
    refused = await review.put("/roster/dr-x", json=entry, headers=coordinator)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["unavailable_until"]
    clinician = bearer(Role.CLINICIAN, sub="dr-x")
    assert (await review.put("/roster/dr-x", json=entry, headers=clinician)).status_code == 403
