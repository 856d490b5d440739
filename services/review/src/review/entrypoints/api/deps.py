"""Dependencies review's routes declare: the use cases, and callers of several roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from corroborate.auth import Principal, Role
from corroborate.http import from_state, require_roles
from review.service import Review

ReviewService = Annotated[Review, Depends(from_state(Review, "review"))]
CaseReader = Annotated[
    Principal, Depends(require_roles(Role.COORDINATOR, Role.CLINICIAN, Role.SENIOR_CLINICIAN))
]
RosterKeeper = Annotated[Principal, Depends(require_roles(Role.COORDINATOR, Role.ADMIN))]
