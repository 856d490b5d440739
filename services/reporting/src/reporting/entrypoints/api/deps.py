"""The use cases a route may ask for, as dependency aliases (the app state holds them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from corroborate.http import Admin
from reporting.service.issuing import Issuing
from reporting.service.legal_review import LegalQueue
from reporting.service.statistics import Statistics

Manager = Admin
"""Operational statistics are for managers: the admin role."""


def _legal_queue(request: Request) -> LegalQueue:
    legal_queue: LegalQueue = request.app.state.legal_queue
    return legal_queue


def _issuing(request: Request) -> Issuing:
    issuing: Issuing = request.app.state.issuing
    return issuing


def _statistics(request: Request) -> Statistics:
    statistics: Statistics = request.app.state.statistics
    return statistics


LegalQueueService = Annotated[LegalQueue, Depends(_legal_queue)]
IssuingService = Annotated[Issuing, Depends(_issuing)]
StatisticsService = Annotated[Statistics, Depends(_statistics)]
