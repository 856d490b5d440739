"""The clinician roster, kept by coordinators and administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from corroborate.http import problem_responses
from review.domain.roster import Clinician, ClinicianId
from review.entrypoints.api.deps import ReviewService, RosterKeeper
from review.entrypoints.api.schemas import RosterEntry

router = APIRouter(tags=["roster"])


@router.put(
    "/roster/{clinician_id}",
    responses=problem_responses(401, 403, 422),
    summary="Add a clinician to the roster or change their entry (leave, capacity, leaving)",
)
async def put_clinician(
    clinician_id: Annotated[ClinicianId, Path()],
    body: RosterEntry,
    caller: RosterKeeper,
    review: ReviewService,
) -> Clinician:
    return await review.put_clinician(caller=caller, clinician=body.clinician(clinician_id))


@router.get(
    "/roster",
    responses=problem_responses(401, 403),
    summary="Every clinician on the roster",
)
async def roster(caller: RosterKeeper, review: ReviewService) -> list[Clinician]:
    return await review.roster()
