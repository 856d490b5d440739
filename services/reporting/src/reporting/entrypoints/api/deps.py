"""The use cases a route may ask for, as dependency aliases (the app state holds them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from corroborate.http import Admin, from_state
from reporting.service.issuing import Issuing
from reporting.service.legal_review import LegalQueue
from reporting.service.statistics import Statistics

Manager = Admin
"""Operational statistics are for managers: the admin role."""


LegalQueueService = Annotated[LegalQueue, Depends(from_state(LegalQueue, "legal_queue"))]
IssuingService = Annotated[Issuing, Depends(from_state(Issuing, "issuing"))]
StatisticsService = Annotated[Statistics, Depends(from_state(Statistics, "statistics"))]
