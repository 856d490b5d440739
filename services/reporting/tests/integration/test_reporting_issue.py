"""Legal review: a completed review arrives, legal signs off, the report is issued encrypted."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from minio import Minio
from pymongo import AsyncMongoClient

from corroborate.auth import Role
from corroborate.events.contracts import ProtectedDetails
from corroborate.events.envelope import EventEnvelope
from corroborate.settings import Settings
from corroborate.storage import minio_client

pytestmark = pytest.mark.integration

Headers = dict[str, str]
Spy = Callable[..., Awaitable[dict[str, bytes]]]
Issue = Callable[[], Awaitable[tuple[EventEnvelope, dict[str, Any]]]]
Publish = Callable[[EventEnvelope], Awaitable[None]]
WaitUntil = Callable[..., Awaitable[Any]]
STATEMENT = {"statement": "Reviewed for legal sufficiency and approved for issue."}


def _minio(settings: Settings) -> Minio:
    return minio_client(settings)


def _raw_report(settings: Settings, key: str) -> bytes:
    response = _minio(settings).get_object(
        bucket_name=settings.bucket_name("reports"), object_name=key
    )
    try:
        data: bytes = response.read()
        return data
    finally:
        response.close()
        response.release_conn()


async def test_a_completed_review_opens_one_legal_review(
    reporting: httpx.AsyncClient,
    legal: Headers,
    completed_event: Callable[[], EventEnvelope],
    publish: Publish,
    wait_until: WaitUntil,
) -> None:
    event = completed_event()
    await publish(event)
    await publish(event)  # redelivered
    marker = completed_event()
    await publish(marker)

    async def both_arrived() -> list[dict[str, Any]] | None:
        queue = (await reporting.get("/legal-reviews", headers=legal)).json()
        ids = {r["case_id"] for r in queue}
        return queue if {str(event.case_id), str(marker.case_id)} <= ids else None

    queue = await wait_until(both_arrived, what="both cases in the legal queue")
    mine = [r for r in queue if r["case_id"] == str(event.case_id)]
    assert len(mine) == 1
    assert mine[0]["status"] == "awaiting_legal_review"
    assert mine[0]["reference"] == event.payload["reference"]
    assert mine[0]["findings"]["lesions"][0]["region"] == "upper_back"
    assert mine[0]["reports"] == []


async def test_sign_off_issues_version_one_encrypted_and_announces_it(
    settings: Settings,
    spy: Spy,
    issued: Issue,
    survivor: ProtectedDetails,
) -> None:
    event, view = await issued()
    case_id = str(event.case_id)

    assert view["status"] == "issued"
    (report,) = view["reports"]
    assert report["version"] == 1
    announced = (await spy(case_id, {"report.issued"}))["report.issued"]
    envelope = json.loads(announced)
    payload = envelope["payload"]
    assert payload["report_id"] == report["report_id"]
    assert payload["sha256"] == report["sha256"]
    assert payload["version"] == 1
    assert payload["signed_off_by"] == "legal-1"
    assert envelope["correlation_id"] == str(event.correlation_id)
    assert survivor.full_name.encode() not in announced

    raw = await asyncio.to_thread(_raw_report, settings, payload["object_key"])
    assert payload["object_key"].startswith(f"cases/{case_id}/reports/v1-")
    assert not raw.startswith(b"%PDF")
    assert hashlib.sha256(raw).hexdigest() != report["sha256"]
    assert survivor.full_name.encode() not in raw


async def test_the_stored_legal_review_holds_no_identity_in_clear(
    settings: Settings, issued: Issue, survivor: ProtectedDetails
) -> None:
    event, _ = await issued()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value()
    )
    try:
        stored = await client[settings.database_name("reporting")]["legal_reviews"].find_one(
            {"_id": str(event.case_id)}
        )
    finally:
        await client.close()
    dumped = json.dumps(stored, default=str)
    assert survivor.full_name not in dumped
    assert str(survivor.home_office_reference) not in dumped
    assert "1989-08-30" not in dumped


async def test_a_second_sign_off_is_a_conflict(
    reporting: httpx.AsyncClient, legal: Headers, issued: Issue
) -> None:
    event, first = await issued()
    again = await reporting.post(
        f"/legal-reviews/{event.case_id}/sign-off", json=STATEMENT, headers=legal
    )
    assert again.status_code == 409
    view = (await reporting.get(f"/legal-reviews/{event.case_id}", headers=legal)).json()
    assert [(r["report_id"], r["sha256"]) for r in view["reports"]] == [
        (r["report_id"], r["sha256"]) for r in first["reports"]
    ]


@pytest.mark.parametrize("role", [Role.PARTNER, Role.CLINICIAN, Role.COORDINATOR])
async def test_legal_review_is_for_legal_reviewers_only(
    reporting: httpx.AsyncClient,
    bearer: Callable[..., Headers],
    org: str,
    awaiting_review: Callable[[], Awaitable[EventEnvelope]],
    role: Role,
) -> None:
    event = await awaiting_review()
    caller = bearer(role, org=org if role is Role.PARTNER else None)
    seen = await reporting.get(f"/legal-reviews/{event.case_id}", headers=caller)
    signed = await reporting.post(
        f"/legal-reviews/{event.case_id}/sign-off", json=STATEMENT, headers=caller
    )
    assert (seen.status_code, signed.status_code) == (403, 403)


async def test_sign_off_needs_a_real_statement_and_a_known_case(
    reporting: httpx.AsyncClient,
    legal: Headers,
    awaiting_review: Callable[[], Awaitable[EventEnvelope]],
) -> None:
    event = await awaiting_review()
    short = await reporting.post(
        f"/legal-reviews/{event.case_id}/sign-off", json={"statement": "ok"}, headers=legal
    )
    unknown = await reporting.post(
        f"/legal-reviews/{uuid.uuid4()}/sign-off", json=STATEMENT, headers=legal
    )
    assert short.status_code == 422
    assert [e["field"] for e in short.json()["errors"]] == ["statement"]
    assert unknown.status_code == 404
    view = (await reporting.get(f"/legal-reviews/{event.case_id}", headers=legal)).json()
    assert view["status"] == "awaiting_legal_review"


async def test_two_reviewers_signing_at_once_leave_exactly_one_report_version_one(
    reporting: httpx.AsyncClient,
    settings: Settings,
    legal: Headers,
    bearer: Callable[..., Headers],
    awaiting_review: Callable[[], Awaitable[EventEnvelope]],
) -> None:
    """Evidence integrity: the bucket must not hold a second, never-issued 'v1' report."""
    event = await awaiting_review()
    colleague = bearer(Role.LEGAL, sub="legal-2")

    answers = await asyncio.gather(
        *(
            reporting.post(f"/legal-reviews/{event.case_id}/sign-off", json=STATEMENT, headers=h)
            for h in (legal, colleague)
        )
    )

    assert sorted(a.status_code for a in answers) == [200, 409]
    (winner,) = [a.json() for a in answers if a.status_code == 200]
    (report,) = winner["reports"]

    def stored_objects() -> list[str]:
        listing = _minio(settings).list_objects(
            bucket_name=settings.bucket_name("reports"),
            prefix=f"cases/{event.case_id}/",
            recursive=True,
        )
        return [o.object_name or "" for o in listing]

    keys = await asyncio.to_thread(stored_objects)
    assert keys == [f"cases/{event.case_id}/reports/v1-{report['report_id']}.pdf"]
