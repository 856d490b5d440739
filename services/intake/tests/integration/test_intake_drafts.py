"""Drafts completed over several requests, retries that repeat nothing, and the listing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

Headers = dict[str, str]
Create = Callable[..., Awaitable[dict[str, Any]]]
Upload = Callable[..., Awaitable[httpx.Response]]
ReferralBody = Callable[..., dict[str, Any]]


async def test_a_draft_is_completed_over_several_requests(
    intake: httpx.AsyncClient,
    partner: Headers,
    referral_body: ReferralBody,
    upload: Upload,
    document: bytes,
) -> None:
    full = referral_body()
    start = {"survivor": full["survivor"], "service_requested": "full_report"}

    created = await intake.post("/referrals", json=start, headers=partner)
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]
    still = {m.split(":")[0] for m in created.json()["missing"]}
    assert still == {
        "representative",
        "immigration",
        "detention",
        "allegations",
        "consent",
        "questions",
    }

    for part in ("representative", "immigration", "detention", "allegations"):
        patched = await intake.patch(
            f"/referrals/{case_id}", json={part: full[part]}, headers=partner
        )
        assert patched.status_code == 200, patched.text
        assert part not in {m.split(":")[0] for m in patched.json()["missing"]}
    last = await intake.patch(
        f"/referrals/{case_id}",
        json={"consent": full["consent"], "questions": full["questions"]},
        headers=partner,
    )
    assert last.json()["missing"] == ["documents: at least one supporting document is required"]
    assert (await upload(case_id, document)).status_code == 201
    view = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
    assert view["missing"] == []
    assert view["details"]["survivor"]["full_name"] == full["survivor"]["full_name"]

    submitted = await intake.post(f"/referrals/{case_id}/submit", headers=partner)
    assert submitted.status_code == 200, submitted.text
    late_edit = await intake.patch(
        f"/referrals/{case_id}", json={"questions": ["Another?"]}, headers=partner
    )
    assert late_edit.status_code == 409
    assert late_edit.json()["detail"] == (
        "the referral is submitted: it cannot be edited (only a draft can be)"
    )


async def test_a_wrong_value_in_a_patch_is_refused_by_field_and_nothing_changes(
    intake: httpx.AsyncClient, partner: Headers, create_referral: Create
) -> None:
    created = await create_referral()
    case_id = created["case_id"]

    wrong = await intake.patch(
        f"/referrals/{case_id}",
        json={"survivor": {"nationality": "Eritrea", "nickname": "x"}, "risk_flags": ["tired"]},
        headers=partner,
    )

    assert wrong.status_code == 422
    fields = {(e["field"], e["rule"]) for e in wrong.json()["errors"]}
    assert fields == {
        ("survivor.nationality", "string_pattern_mismatch"),
        ("survivor.nickname", "extra_forbidden"),
        ("risk_flags.0", "enum"),
    }
    view = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
    assert view["details"]["survivor"]["nationality"] == "ER"


async def test_null_in_a_patch_removes_a_field(
    intake: httpx.AsyncClient, partner: Headers, create_referral: Create
) -> None:
    created = await create_referral()
    removed = await intake.patch(
        f"/referrals/{created['case_id']}", json={"questions": None}, headers=partner
    )
    assert removed.status_code == 200
    assert "questions: Field required" in removed.json()["missing"]
    assert "questions" not in removed.json()["details"]


async def test_rules_between_fields_are_checked(
    intake: httpx.AsyncClient, partner: Headers, referral_body: ReferralBody
) -> None:
    body = referral_body(service_requested="clinical_response_letter")
    body["immigration"] = {"stage": "not_yet_claimed"}
    body["detention"] = {"detained": False, "place": "Somewhere IRC"}
    body["allegations"]["period"] = {"start": "2023-06", "end": "2023-01"}

    response = await intake.post("/referrals", json=body, headers=partner)

    assert response.status_code == 422
    fields = {(e["field"], e["rule"]) for e in response.json()["errors"]}
    assert fields == {
        ("detention.place", "not_detained"),
        ("allegations.period.end", "period_order"),
    }
    body["detention"] = {"detained": False}
    body["allegations"]["period"] = {"start": "2023-01"}
    response = await intake.post("/referrals", json=body, headers=partner)
    assert response.status_code == 422
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [
        ("service_requested", "needs_refusal")
    ]


# --- Idempotency-Key ------------------------------------------------------------------------


async def test_a_retried_create_makes_one_referral(
    intake: httpx.AsyncClient, partner: Headers, referral_body: ReferralBody
) -> None:
    key = {"Idempotency-Key": "create-retry-0001"}
    body = referral_body()
    first = await intake.post("/referrals", json=body, headers={**partner, **key})
    again = await intake.post("/referrals", json=body, headers={**partner, **key})

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["case_id"] == first.json()["case_id"]
    listed = (await intake.get("/referrals", headers=partner)).json()["items"]
    assert [r["case_id"] for r in listed] == [first.json()["case_id"]]

    other = referral_body(questions=["A different question entirely?"])
    reused = await intake.post("/referrals", json=other, headers={**partner, **key})
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_concurrent_retries_with_one_key_make_one_referral(
    intake: httpx.AsyncClient, partner: Headers, referral_body: ReferralBody
) -> None:
    key = {"Idempotency-Key": "create-race-0001"}
    body = referral_body()
    responses = await asyncio.gather(
        *(intake.post("/referrals", json=body, headers={**partner, **key}) for _ in range(5))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201]
    assert len({r.json()["case_id"] for r in responses}) == 1
    assert len((await intake.get("/referrals", headers=partner)).json()["items"]) == 1


async def test_a_retried_upload_stores_one_document(
    intake: httpx.AsyncClient,
    partner: Headers,
    create_referral: Create,
    upload: Upload,
    document: bytes,
) -> None:
    case_id = (await create_referral())["case_id"]
    key = {**partner, "Idempotency-Key": "upload-retry-0001"}

    first = await upload(case_id, document, headers=key)
    again = await upload(case_id, document, headers=key)
    different = await upload(case_id, document + b"\n% changed", headers=key)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    assert different.status_code == 422
    view = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
    assert len(view["documents"]) == 1


async def test_a_retried_submit_answers_as_the_first_did(
    intake: httpx.AsyncClient,
    partner: Headers,
    create_referral: Create,
    upload: Upload,
    document: bytes,
) -> None:
    case_id = (await create_referral())["case_id"]
    assert (await upload(case_id, document)).status_code == 201
    key = {**partner, "Idempotency-Key": "submit-retry-0001"}

    first = await intake.post(f"/referrals/{case_id}/submit", headers=key)
    again = await intake.post(f"/referrals/{case_id}/submit", headers=key)
    unkeyed = await intake.post(f"/referrals/{case_id}/submit", headers=partner)

    assert first.status_code == 200
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert [c["status"] for c in again.json()["timeline"]] == ["submitted"]
    assert unkeyed.status_code == 409


async def test_a_malformed_idempotency_key_is_refused_by_name(
    intake: httpx.AsyncClient, partner: Headers, referral_body: ReferralBody
) -> None:
    response = await intake.post(
        "/referrals", json=referral_body(), headers={**partner, "Idempotency-Key": "no"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "header.Idempotency-Key"


# --- listing --------------------------------------------------------------------------------


async def test_the_list_pages_newest_first_and_filters(
    intake: httpx.AsyncClient,
    partner: Headers,
    create_referral: Create,
    upload: Upload,
    document: bytes,
) -> None:
    made = [(await create_referral())["case_id"] for _ in range(5)]
    assert (await upload(made[0], document)).status_code == 201
    assert (await intake.post(f"/referrals/{made[0]}/submit", headers=partner)).status_code == 200

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await intake.get("/referrals", params=params, headers=partner)).json()
        seen += [r["case_id"] for r in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))
    assert pages == 3

    drafts = await intake.get("/referrals", params={"status": "draft"}, headers=partner)
    assert {r["case_id"] for r in drafts.json()["items"]} == set(made[1:])
    both = await intake.get(
        "/referrals", params=[("status", "draft"), ("status", "submitted")], headers=partner
    )
    assert len(both.json()["items"]) == 5

    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    later = await intake.get("/referrals", params={"created_from": future}, headers=partner)
    assert later.json()["items"] == []
    earlier = await intake.get("/referrals", params={"created_to": future}, headers=partner)
    assert len(earlier.json()["items"]) == 5


async def test_a_forged_cursor_is_refused_by_name(
    intake: httpx.AsyncClient, partner: Headers
) -> None:
    response = await intake.get("/referrals", params={"cursor": "not-a-cursor"}, headers=partner)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (b'{"survivor": {"full_name": "A', "json_invalid"),
        (b'["a", "list"]', "dict_type"),
        (b'"a string"', "dict_type"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_refused_and_nothing_is_made(
    intake: httpx.AsyncClient, partner: Headers, content: bytes, rule: str
) -> None:
    response = await intake.post(
        "/referrals", content=content, headers={**partner, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert [e["rule"] for e in response.json()["errors"]] == [rule]
    assert (await intake.get("/referrals", headers=partner)).json()["items"] == []


async def test_wrong_types_are_named_field_by_field(
    intake: httpx.AsyncClient, partner: Headers, referral_body: ReferralBody
) -> None:
    body = referral_body(questions="one question", risk_flags="detained")
    body["survivor"]["interpreter_needed"] = "perhaps"
    body["survivor"]["approximate_age"] = "thirty"
    response = await intake.post("/referrals", json=body, headers=partner)
    assert response.status_code == 422
    assert {(e["field"], e["rule"]) for e in response.json()["errors"]} == {
        ("questions", "list_type"),
        ("risk_flags", "list_type"),
        ("survivor.interpreter_needed", "bool_parsing"),
        ("survivor.approximate_age", "int_parsing"),
    }
