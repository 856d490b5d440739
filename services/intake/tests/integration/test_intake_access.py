"""Who may see and change a referral: its own organisation's partners, and nobody else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from corroborate.auth import Role

pytestmark = pytest.mark.integration

Headers = dict[str, str]
Create = Callable[..., Awaitable[dict[str, Any]]]
Upload = Callable[..., Awaitable[httpx.Response]]
TokenFactory = Callable[..., str]


async def test_another_organisation_cannot_find_the_referral(
    intake: httpx.AsyncClient,
    bearer: Callable[..., Headers],
    partner: Headers,
    create_referral: Create,
    upload: Upload,
    document: bytes,
) -> None:
    created = await create_referral()
    case_id = created["case_id"]
    stranger = bearer(Role.PARTNER, org="other-solicitors", sub="solicitor-9")

    seen = await intake.get(f"/referrals/{case_id}", headers=stranger)
    attached = await upload(case_id, document, headers=stranger)
    submitted = await intake.post(f"/referrals/{case_id}/submit", headers=stranger)
    edited = await intake.patch(
        f"/referrals/{case_id}", json={"questions": ["Changed?"]}, headers=stranger
    )
    withdrawn = await intake.post(
        f"/referrals/{case_id}/withdraw", json={"reason": "not mine"}, headers=stranger
    )
    report = await intake.get(f"/referrals/{case_id}/report", headers=stranger)
    listed = await intake.get("/referrals", headers=stranger)

    for refused in (seen, attached, submitted, edited, withdrawn, report):
        assert refused.status_code == 404, refused.request.url
    assert case_id not in {r["case_id"] for r in listed.json()["items"]}
    view = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
    assert view["status"] == "draft"
    assert view["documents"] == []


async def test_a_colleague_in_the_same_organisation_can_follow_the_referral(
    intake: httpx.AsyncClient, bearer: Callable[..., Headers], org: str, create_referral: Create
) -> None:
    created = await create_referral()
    colleague = bearer(Role.PARTNER, org=org, sub="solicitor-2")
    seen = await intake.get(f"/referrals/{created['case_id']}", headers=colleague)
    assert seen.status_code == 200
    assert seen.json()["reference"] == created["reference"]


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.COORDINATOR, Role.LEGAL])
async def test_staff_roles_may_not_use_the_partner_api(
    intake: httpx.AsyncClient,
    bearer: Callable[..., Headers],
    create_referral: Create,
    role: Role,
) -> None:
    created = await create_referral()
    staff = bearer(role)
    seen = await intake.get(f"/referrals/{created['case_id']}", headers=staff)
    made = await intake.post("/referrals", json={}, headers=staff)
    assert seen.status_code == 403
    assert made.status_code == 403
    assert role.value in seen.json()["detail"]


async def test_no_token_is_unauthorised(intake: httpx.AsyncClient, create_referral: Create) -> None:
    created = await create_referral()
    response = await intake.get(f"/referrals/{created['case_id']}")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (await intake.get("/referrals")).status_code == 401


@pytest.mark.parametrize(
    "claims",
    [
        {"audiences": ["corroborate-review"]},
        {"audiences": ["corroborate-reporting", "corroborate-review"]},
        {"ttl_seconds": -120},
    ],
    ids=["review-only", "other-services", "expired"],
)
async def test_a_token_not_meant_for_intake_is_unauthorised(
    intake: httpx.AsyncClient,
    make_token: TokenFactory,
    org: str,
    create_referral: Create,
    claims: dict[str, Any],
) -> None:
    created = await create_referral()
    token = make_token(Role.PARTNER, org=org, sub="solicitor-1", **claims)
    response = await intake.get(
        f"/referrals/{created['case_id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401


async def test_a_tampered_token_is_unauthorised(
    intake: httpx.AsyncClient, partner: Headers
) -> None:
    token = partner["Authorization"].removeprefix("Bearer ")
    head, body, signature = token.split(".")
    forged = f"{head}.{body}.{signature[:-4]}AAAA"
    response = await intake.get("/referrals", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
