"""Dependencies review's routes declare: the use cases, and callers of several roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from corroborate.auth import Principal, Role
from corroborate.http import require_roles
from review.service import Review


def _review(request: Request) -> Review:
    review: Review = request.app.state.review
    return review


ReviewService = Annotated[Review, Depends(_review)]
CaseReader = Annotated[
    Principal, Depends(require_roles(Role.COORDINATOR, Role.CLINICIAN, Role.SENIOR_CLINICIAN))
]
RosterKeeper = Annotated[Principal, Depends(require_roles(Role.COORDINATOR, Role.ADMIN))]
