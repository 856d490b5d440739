"""Appointments for an assessment, and the consents recorded at each."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from corroborate.http import Clinician, problem_responses
from review.entrypoints.api.deps import CaseReader, ReviewService
from review.entrypoints.api.schemas import (
    AppointmentRequest,
    CaseView,
    ConsentRequest,
    case_view,
)

router = APIRouter(tags=["assessment"])


@router.post(
    "/cases/{case_id}/appointments",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Book an appointment (tells the partner the date)",
)
async def book_appointment(
    case_id: uuid.UUID, body: AppointmentRequest, caller: CaseReader, review: ReviewService
) -> CaseView:
    case = await review.book_appointment(
        caller=caller,
        case_id=case_id,
        on=body.on,
        remote=body.remote,
        interpreter_language=body.interpreter_language,
    )
    return case_view(case, review)


@router.put(
    "/cases/{case_id}/appointments/{appointment_id}/consent",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Record consent to the examination and, separately, to photography",
)
async def record_consent(
    case_id: uuid.UUID,
    appointment_id: uuid.UUID,
    body: ConsentRequest,
    caller: Clinician,
    review: ReviewService,
) -> CaseView:
    case = await review.record_consent(
        caller=caller,
        case_id=case_id,
        appointment_id=appointment_id,
        examination=body.examination,
        photography=body.photography,
    )
    return case_view(case, review)
