"""Referrals, for their partner: start and complete a draft, list them, read one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from corroborate.http import Partner, problem_responses
from intake.domain.referral import ReferralStatus
from intake.entrypoints.api.deps import IdempotencyKey, IntakeService
from intake.entrypoints.api.routes.replay import mark_replayed
from intake.entrypoints.api.schemas import (
    REFERRAL_EXAMPLE,
    ReferralFormDraft,
    ReferralPage,
    ReferralSummary,
    ReferralView,
)

router = APIRouter(prefix="/referrals", tags=["referrals"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        **problem_responses(401, 403, 422),
        200: {
            "model": ReferralView,
            "description": "a retry with the same Idempotency-Key: the first answer again",
        },
    },
    summary="Start a referral: a draft, complete or not, until it is submitted",
)
async def create_referral(
    *,
    caller: Partner,
    intake: IntakeService,
    response: Response,
    form: Annotated[
        ReferralFormDraft,
        Body(
            description="The referral form, or part of it.",
            openapi_examples={
                "complete": {"summary": "a complete referral", "value": REFERRAL_EXAMPLE},
                "started": {
                    "summary": "a draft begun: the representative only",
                    "value": {"representative": REFERRAL_EXAMPLE["representative"]},
                },
            },
        ),
    ],
    idempotency_key: IdempotencyKey = None,
) -> ReferralView:
    result = await intake.drafts.create(caller=caller, data=form, idempotency_key=idempotency_key)
    mark_replayed(response, result, created=True)
    return ReferralView.of(result.value)


@router.patch(
    "/{case_id}",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Complete or correct a draft (JSON merge patch: null removes a field)",
)
async def update_referral(
    *,
    case_id: uuid.UUID,
    caller: Partner,
    intake: IntakeService,
    patch: Annotated[
        ReferralFormDraft,
        Body(
            description="The fields to change (JSON merge patch, RFC 7396: null removes one).",
            openapi_examples={
                "detention": {
                    "summary": "the survivor has been detained",
                    "value": {"detention": {"detained": True, "place": "Harmondsworth IRC"}},
                }
            },
        ),
    ],
) -> ReferralView:
    return ReferralView.of(await intake.drafts.update(caller=caller, case_id=case_id, patch=patch))


@router.get(
    "",
    responses=problem_responses(401, 403, 422),
    summary="This organisation's referrals, newest first, a page at a time",
)
async def list_referrals(
    *,
    caller: Partner,
    intake: IntakeService,
    status_in: Annotated[
        list[ReferralStatus],
        Query(alias="status", max_length=len(ReferralStatus), description="Any of these statuses."),
    ] = [],  # noqa: B006 - FastAPI copies defaults per request
    created_from: Annotated[datetime | None, Query(description="Created at or after.")] = None,
    created_to: Annotated[datetime | None, Query(description="Created before.")] = None,
    home_office_reference: Annotated[
        str | None,
        Query(max_length=40, description="Find by Home Office reference (exact match)."),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReferralPage:
    items, following = await intake.cases.list_referrals(
        caller=caller,
        statuses=status_in,
        created_from=created_from,
        created_to=created_to,
        home_office_reference=home_office_reference,
        cursor=cursor,
        limit=limit,
    )
    return ReferralPage(
        items=[ReferralSummary.model_validate(r) for r in items], next_cursor=following
    )


@router.get(
    "/{case_id}",
    responses=problem_responses(401, 403, 404),
    summary="One referral: the form, the evidence and the timeline",
)
async def get_referral(
    *, case_id: uuid.UUID, caller: Partner, intake: IntakeService
) -> ReferralView:
    return ReferralView.of(await intake.cases.read(caller=caller, case_id=case_id))
