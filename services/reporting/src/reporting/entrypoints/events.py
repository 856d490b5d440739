"""Case events reporting consumes: for legal review and the report, and for statistics."""

from __future__ import annotations

from corroborate.events.envelope import EventEnvelope
from corroborate.messaging.rabbit import EventHandler
from reporting.service import Reporting
from reporting.statistics_service import Statistics


def _in_turn(*handlers: EventHandler) -> EventHandler:
    """Several handlers for one event, each idempotent; statistics first, so a redelivery
    that the legal review recognises as already handled has updated them too."""

    async def handle(envelope: EventEnvelope, payload: object) -> None:
        for handler in handlers:
            await handler(envelope, payload)

    return handle


def event_handlers(reporting: Reporting, statistics: Statistics) -> dict[str, EventHandler]:
    return {
        "review.completed": _in_turn(statistics.on_review_completed, reporting.on_review_completed),
        "case.escalated": reporting.on_case_escalated,
        "referral.withdrawn": _in_turn(
            statistics.on_referral_withdrawn, reporting.on_referral_withdrawn
        ),
        "referral.submitted": statistics.on_referral_submitted,
        "referral.accepted": statistics.on_referral_accepted,
        "referral.declined": statistics.on_referral_declined,
        "report.issued": statistics.on_report_issued,
        "case.erased": reporting.on_case_erased,
    }
