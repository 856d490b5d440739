"""Legal review's loop: changes requested and resubmitted, corrections as new versions, every
download recorded, reports locked, and a withdrawn case never issued."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from corroborate.crypto import KeyRing
from corroborate.events.contracts import (
    CASE_EVENTS,
    ReferralWithdrawn,
    SealedText,
    open_text,
    seal_text,
)
from corroborate.events.envelope import EventEnvelope, new_event
from corroborate.settings import Settings
from corroborate.storage import minio_client

pytestmark = pytest.mark.integration

Headers = dict[str, str]
Spy = Callable[..., Awaitable[dict[str, bytes]]]
Publish = Callable[[EventEnvelope], Awaitable[None]]
WaitUntil = Callable[..., Awaitable[Any]]
STATEMENT = {"statement": "Reviewed for legal sufficiency and approved for issue."}


def _revised(event: EventEnvelope, **findings: Any) -> EventEnvelope:
    """The same case back from peer review with revised findings (a new event)."""
    payload = dict(event.payload)
    payload["findings"] = {**payload["findings"], **findings}
    payload["completed_at"] = datetime.now(UTC).isoformat()
    return event.model_copy(update={"event_id": uuid.uuid4(), "payload": payload})


def _withdrawn(case_id: uuid.UUID, keyring: KeyRing) -> EventEnvelope:
    reason = seal_text("Leave granted.", case_id=case_id, key=keyring.new_data_key(), purpose="x")
    return new_event(
        payload=ReferralWithdrawn(
            reason=reason, withdrawn_by="solicitor-1", withdrawn_at=datetime.now(UTC)
        ),
        case_id=case_id,
        producer="intake",
        correlation_id=uuid.uuid4(),
        registry=CASE_EVENTS,
    )


async def _status(reporting: httpx.AsyncClient, legal: Headers, case_id: uuid.UUID) -> str:
    view = await reporting.get(f"/legal-reviews/{case_id}", headers=legal)
    return str(view.json()["status"]) if view.status_code == 200 else f"HTTP {view.status_code}"


async def test_changes_go_back_to_the_clinician_and_the_revision_shows_what_changed(
    reporting: httpx.AsyncClient,
    legal: Headers,
    awaiting_review: Callable[[], Awaitable[EventEnvelope]],
    publish: Publish,
    keyring: KeyRing,
    spy: Spy,
    wait_until: WaitUntil,
) -> None:
    opened = await awaiting_review()
    case_id = opened.case_id
    comments = "Answer the instructing question about the scars directly."

    sent_back = await reporting.post(
        f"/legal-reviews/{case_id}/changes", json={"comments": comments}, headers=legal
    )

    assert sent_back.status_code == 200, sent_back.text
    assert sent_back.json()["status"] == "changes_requested"
    assert sent_back.json()["change_requests"][0]["comments"] == comments
    body = (await spy(str(case_id), {"report.changes_requested"}))["report.changes_requested"]
    assert comments.encode() not in body
    sealed = SealedText.model_validate(json.loads(body)["payload"]["comments"])
    assert open_text(sealed, case_id=case_id, keyring=keyring, purpose="legal-comments") == comments
    refused = await reporting.post(
        f"/legal-reviews/{case_id}/sign-off", json=STATEMENT, headers=legal
    )
    assert refused.status_code == 409
    assert refused.json()["detail"] == "the case is changes_requested: it cannot be signed off"
    queue = (await reporting.get("/legal-reviews", headers=legal)).json()
    assert str(case_id) not in {item["case_id"] for item in queue}

    await publish(_revised(opened, conclusions="The scars are highly consistent, as asked."))
    await wait_until(
        lambda: _is(reporting, legal, case_id, "awaiting_legal_review"), what="resubmitted"
    )
    view = (await reporting.get(f"/legal-reviews/{case_id}", headers=legal)).json()
    assert view["changed"] == ["conclusions"]
    signed = await reporting.post(
        f"/legal-reviews/{case_id}/sign-off", json=STATEMENT, headers=legal
    )
    assert signed.status_code == 200, signed.text
    assert [r["version"] for r in signed.json()["reports"]] == [1]


async def _is(reporting: httpx.AsyncClient, legal: Headers, case_id: uuid.UUID, want: str) -> bool:
    return await _status(reporting, legal, case_id) == want


async def test_a_correction_after_issue_is_a_new_version_and_the_first_stays_valid(
    reporting: httpx.AsyncClient,
    settings: Settings,
    legal: Headers,
    partner: Headers,
    issued: Callable[[], Awaitable[tuple[EventEnvelope, dict[str, Any]]]],
    publish: Publish,
    wait_until: WaitUntil,
) -> None:
    opened, first = await issued()
    case_id = opened.case_id
    v1 = first["reports"][0]

    back = await reporting.post(
        f"/legal-reviews/{case_id}/changes",
        json={"comments": "Correct the size of lesion 1."},
        headers=legal,
    )
    assert back.status_code == 200, back.text
    await publish(_revised(opened, interpretation="Corrected after issue."))
    await wait_until(lambda: _is(reporting, legal, case_id, "awaiting_legal_review"), what="back")
    second = await reporting.post(
        f"/legal-reviews/{case_id}/sign-off", json=STATEMENT, headers=legal
    )

    assert second.status_code == 200, second.text
    reports = second.json()["reports"]
    assert [r["version"] for r in reports] == [1, 2]
    assert reports[0]["sha256"] == v1["sha256"]
    assert reports[1]["sha256"] != v1["sha256"]
    for report in reports:  # every version stays retrievable, and its hash stays valid
        link = await reporting.post(
            f"/cases/{case_id}/report/link",
            params={"version": report["version"]},
            headers=partner,
        )
        assert link.status_code == 200, link.text
        pdf = await reporting.get(link.json()["url"], headers=partner)
        assert hashlib.sha256(pdf.content).hexdigest() == report["sha256"]
    no_such = await reporting.post(
        f"/cases/{case_id}/report/link", params={"version": 3}, headers=partner
    )
    assert no_such.status_code == 404
    s3 = minio_client(settings)
    stored = await reporting.get(f"/legal-reviews/{case_id}", headers=legal)
    assert stored.status_code == 200
    objects = await asyncio.to_thread(
        lambda: list(
            s3.list_objects(
                bucket_name=settings.bucket_name("reports"),
                prefix=f"cases/{case_id}/reports/",
                include_version=True,
                recursive=True,
            )
        )
    )
    for obj in objects:
        retention = await asyncio.to_thread(
            s3.get_object_retention,
            bucket_name=settings.bucket_name("reports"),
            object_name=obj.object_name or "",
            version_id=obj.version_id,
        )
        assert retention is not None
        assert retention.mode == settings.evidence_retention_mode
        assert retention.retain_until_date > datetime.now(UTC) + timedelta(hours=23)
    assert {o.object_name for o in objects} == {
        f"cases/{case_id}/reports/v{r['version']}-{r['report_id']}.pdf" for r in reports
    }


async def test_every_download_is_recorded_with_who_and_when(
    reporting: httpx.AsyncClient,
    legal: Headers,
    partner: Headers,
    issued: Callable[[], Awaitable[tuple[EventEnvelope, dict[str, Any]]]],
) -> None:
    opened, signed = await issued()
    for _ in range(2):
        link = await reporting.post(f"/cases/{opened.case_id}/report/link", headers=partner)
        pdf = await reporting.get(link.json()["url"], headers=partner)
        assert pdf.status_code == 200
        assert hashlib.sha256(pdf.content).hexdigest() == signed["reports"][0]["sha256"]

    view = (await reporting.get(f"/legal-reviews/{opened.case_id}", headers=legal)).json()
    downloads = view["reports"][0]["downloads"]
    assert [d["by"] for d in downloads] == ["solicitor-1", "solicitor-1"]
    assert downloads[0]["at"] <= downloads[1]["at"]


async def test_a_withdrawn_case_is_never_issued(
    reporting: httpx.AsyncClient,
    legal: Headers,
    awaiting_review: Callable[[], Awaitable[EventEnvelope]],
    completed_event: Callable[[], EventEnvelope],
    publish: Publish,
    keyring: KeyRing,
    wait_until: WaitUntil,
) -> None:
    opened = await awaiting_review()
    await publish(_withdrawn(opened.case_id, keyring))
    await wait_until(lambda: _is(reporting, legal, opened.case_id, "withdrawn"), what="withdrawn")
    refused = await reporting.post(
        f"/legal-reviews/{opened.case_id}/sign-off", json=STATEMENT, headers=legal
    )
    assert refused.status_code == 409

    # Withdrawn before the approved draft arrives: it never reaches legal review.
    late = completed_event()
    await publish(_withdrawn(late.case_id, keyring))
    await asyncio.sleep(0.5)
    await publish(late)
    marker = await awaiting_review()  # a later case on the same queue, so the late one was seen
    assert await _status(reporting, legal, marker.case_id) == "awaiting_legal_review"
    assert await _status(reporting, legal, late.case_id) == "HTTP 404"
