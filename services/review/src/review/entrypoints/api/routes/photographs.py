"""Photographs taken at an appointment, with consent to photography, streamed in."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from corroborate.http import Clinician, binary_upload, problem_responses
from review.entrypoints.api.deps import ReviewService
from review.entrypoints.api.schemas import PhotographReceipt

router = APIRouter(tags=["assessment"])
UPLOAD = binary_upload(refused="not a photograph")


@router.post(
    "/cases/{case_id}/photographs",
    status_code=status.HTTP_201_CREATED,
    responses={**problem_responses(401, 403, 404, 409, 422), **UPLOAD["responses"]},
    summary="Attach a photograph taken at an appointment with consent to photography",
    openapi_extra=UPLOAD["openapi_extra"],
)
async def add_photograph(
    case_id: uuid.UUID,
    request: Request,
    caller: Clinician,
    review: ReviewService,
    appointment_id: Annotated[uuid.UUID, Query(description="Where it was taken.")],
) -> PhotographReceipt:
    photo = await review.add_photograph(
        caller=caller, case_id=case_id, appointment_id=appointment_id, body=request.stream()
    )
    return PhotographReceipt.model_validate(photo, from_attributes=True)
