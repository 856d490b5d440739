"""Review's routes, one module per resource."""

from __future__ import annotations

from fastapi import APIRouter

from review.entrypoints.api.routes import (
    appointments,
    assignment,
    at_risk,
    cases,
    peer_review,
    photographs,
    roster,
    triage,
)

ROUTERS: tuple[APIRouter, ...] = (
    triage.router,
    at_risk.router,
    assignment.router,
    roster.router,
    cases.router,
    appointments.router,
    photographs.router,
    peer_review.router,
)
