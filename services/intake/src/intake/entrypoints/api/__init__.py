"""Intake's HTTP API: referral partners' referrals and evidence, admins' retention, webhooks
and the directory of organisations and people."""

from fastapi import APIRouter

from intake.entrypoints.api.errors import ERRORS
from intake.entrypoints.api.routes import (
    directory,
    documents,
    referrals,
    reports,
    retention,
    submission,
    webhooks,
)

ROUTERS: list[APIRouter] = [
    referrals.router,
    documents.router,
    submission.router,
    reports.router,
    retention.router,
    webhooks.router,
    directory.router,
]

__all__ = ["ERRORS", "ROUTERS"]
