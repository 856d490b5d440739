"""Case events intake consumes: the progress the partner follows."""

from __future__ import annotations

from corroborate.events.contracts import (
    AppointmentBooked,
    CaseAssigned,
    InformationRequested,
    ReferralAccepted,
    ReferralAcknowledged,
    ReferralDeclined,
    ReferralWaitlisted,
    ReportIssued,
    ReviewCompleted,
)
from corroborate.messaging.handlers import EventHandlers
from intake.service.progress import Progress


def event_handlers(progress: Progress) -> EventHandlers:
    """Every progress event, to the one handler that puts it on the partner's timeline."""
    on_progress = progress.on_progress
    return (
        EventHandlers()
        .on(ReferralAcknowledged, on_progress)
        .on(InformationRequested, on_progress)
        .on(ReferralAccepted, on_progress)
        .on(ReferralDeclined, on_progress)
        .on(ReferralWaitlisted, on_progress)
        .on(CaseAssigned, on_progress)
        .on(AppointmentBooked, on_progress)
        .on(ReviewCompleted, on_progress)
        .on(ReportIssued, on_progress)
    )
