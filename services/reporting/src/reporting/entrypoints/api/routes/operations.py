"""Operational statistics for managers: how many referrals, how fast, how many on time."""

from __future__ import annotations

from fastapi import APIRouter

from corroborate.http import problem_responses
from reporting.entrypoints.api.deps import Manager, StatisticsService
from reporting.entrypoints.api.schemas import OperationsView

router = APIRouter(prefix="/statistics", tags=["statistics"])


@router.get(
    "/operations",
    responses=problem_responses(401, 403),
    summary="For managers: referrals per month, time to issue, on-time share, backlog",
)
async def operations(caller: Manager, statistics: StatisticsService) -> OperationsView:
    return OperationsView.model_validate(await statistics.operations(caller=caller))
