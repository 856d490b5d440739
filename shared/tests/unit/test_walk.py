"""The scripted walk's plumbing: a step fails by its name, waits give up, and the checks a
patient caller asks before repeating a change see only that change's effect."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

import httpx
import pytest

from corroborate.walk.calls import (
    ABSENT,
    NOT_THERE,
    DirectHttp,
    Done,
    Headers,
    Pace,
    WalkFailed,
    until,
)
from corroborate.walk.steps import People, ReferralWalk, Services


def _answering(status: int, body: Any = None) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    return httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://svc")


async def test_an_unexpected_answer_fails_the_step_by_its_name() -> None:
    async with _answering(409, {"detail": "already decided"}) as http:
        with pytest.raises(WalkFailed, match=r"^coordinator accepts: HTTP 409: .*already decided"):
            await DirectHttp(http).change(
                "coordinator accepts", "POST", "/cases/x/decision", headers={}, expect={200}
            )


async def test_a_service_that_does_not_answer_fails_the_step_by_its_name() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        with pytest.raises(WalkFailed, match=r"^partner submits: no answer from .*ConnectError"):
            await DirectHttp(http, "http://127.0.0.1:1").change(
                "partner submits", "POST", "/referrals/x/submit", headers={}, expect={200}
            )


async def test_a_read_of_what_is_not_there_yet_is_absent_and_anything_else_fails() -> None:
    async with _answering(404) as http:
        assert await DirectHttp(http).read("/cases/x", headers={}) is ABSENT
    async with _answering(403, {"detail": "no"}) as http:
        with pytest.raises(WalkFailed, match="HTTP 403"):
            await DirectHttp(http).read("/cases/x", headers={})


async def test_a_wait_gives_up_after_its_time() -> None:
    looks = 0

    async def never() -> None:
        nonlocal looks
        looks += 1

    with pytest.raises(WalkFailed, match="the thing: not seen within 0s"):
        await until("the thing", never, Pace(within=0.2, every=0.05))
    assert looks >= 3


class _Review:
    """Review as a patient caller meets it after a lost connection: before each change is sent
    again, the step's ``done`` check is asked; then the change takes effect."""

    def __init__(self, case: dict[str, Any]) -> None:
        self.case = case
        self.checks: list[Any] = []

    async def read(self, path: str, *, headers: Headers, absent: frozenset[int] = NOT_THERE) -> Any:
        return dict(self.case)

    async def change(
        self,
        step: str,
        method: str,
        path: str,
        *,
        headers: Headers,
        expect: Collection[int],
        done: Done | None = None,
        **request: Any,
    ) -> Any:
        assert done is not None, step
        self.checks.append(await done())
        if path.endswith("/findings"):
            self.case["versions"] = [*self.case["versions"], {"version": 2}]
        if path.endswith("/appointments"):
            self.case["appointments"] = [*self.case["appointments"], {"appointment_id": "b"}]
        return dict(self.case)

    async def fetch(self, step: str, url: str, *, headers: Headers) -> bytes:
        raise AssertionError("not used")


def _walk(review: _Review) -> ReferralWalk:
    return ReferralWalk(
        Services(intake=review, review=review, reporting=review),
        People(partner={}, coordinator={}, clinicians={"dr": {}}, senior={}, legal={}),
        case_id=uuid.uuid4(),
        clinician="dr",
    )


async def test_a_revised_draft_is_not_taken_for_done_because_an_earlier_one_exists() -> None:
    review = _Review({"status": "assigned", "versions": [], "appointments": []})
    walk = _walk(review)
    await walk.record_findings({"conclusions": "first"})
    review.checks.clear()

    review.case["status"] = "assigned"  # sent back by legal, the clinician revises
    saved = await walk.record_findings({"conclusions": "revised"})

    assert review.checks == [None], "the earlier version was taken for the revision"
    assert len(saved["versions"]) == 2


async def test_a_second_appointment_is_not_taken_for_done_because_a_first_exists() -> None:
    review = _Review({"status": "assigned", "versions": [], "appointments": []})
    walk = _walk(review)
    await walk.book_appointment()
    review.checks.clear()

    second = await walk.book_appointment()

    assert review.checks == [None], "the first appointment was taken for the second"
    assert second == "b"
