"""Progress reported by the other services, on the partner's timeline. Each write records the
event as processed, atomically, so a redelivered event changes nothing."""

from __future__ import annotations

import uuid
from datetime import date

from corroborate.audit import SYSTEM
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
from corroborate.events.envelope import EventEnvelope
from corroborate.events.errors import UnknownCase
from intake.domain.referral import Referral, ReferralStatus, StatusChange
from intake.service.cases import Cases

ProgressEvent = (
    ReferralAcknowledged
    | InformationRequested
    | ReferralAccepted
    | ReferralDeclined
    | ReferralWaitlisted
    | CaseAssigned
    | AppointmentBooked
    | ReviewCompleted
    | ReportIssued
)

STATUS_FOR: dict[type[ProgressEvent], ReferralStatus] = {
    ReferralAcknowledged: ReferralStatus.ACKNOWLEDGED,
    InformationRequested: ReferralStatus.INFORMATION_REQUESTED,
    ReferralAccepted: ReferralStatus.ACCEPTED,
    ReferralDeclined: ReferralStatus.DECLINED,
    ReferralWaitlisted: ReferralStatus.WAITLISTED,
    CaseAssigned: ReferralStatus.IN_ASSESSMENT,
    AppointmentBooked: ReferralStatus.APPOINTMENT_BOOKED,
    ReviewCompleted: ReferralStatus.IN_LEGAL_REVIEW,
    ReportIssued: ReferralStatus.ISSUED,
}
"""Each event intake follows, and the status it puts on the partner's timeline."""


class Progress:
    def __init__(self, *, cases: Cases) -> None:
        self._cases = cases

    async def on_progress(self, envelope: EventEnvelope, payload: ProgressEvent) -> None:
        referrals = self._cases.referrals
        stored = await referrals.get(envelope.case_id)
        if stored is None:
            raise UnknownCase(f"no referral {envelope.case_id}")
        referral = stored.referral
        change, request_id = _change_for(envelope, payload)
        referral.progress(change, request_id=request_id)
        if isinstance(payload, ReportIssued) and referral.status is ReferralStatus.ISSUED:
            _file_report(referral, payload)
        await referrals.save(referral, events=[], processed_event=envelope.event_id)
        await self._cases.audit.record(
            "status.changed",
            actor=SYSTEM,
            case_id=envelope.case_id,
            details={"status": change.status.value, "event_id": str(envelope.event_id)},
        )


def _file_report(referral: Referral, payload: ReportIssued) -> None:
    """Keep every issued version, in version order, once each."""
    entry: dict[str, object] = payload.model_dump(
        include={"report_id", "version", "sha256", "size", "issued_at"}
    )
    entry["report_id"] = str(payload.report_id)
    if all(r["report_id"] != entry["report_id"] for r in referral.reports):
        referral.reports.append(entry)
        referral.reports.sort(key=lambda r: int(str(r["version"])))


def _change_for(
    envelope: EventEnvelope, payload: ProgressEvent
) -> tuple[StatusChange, uuid.UUID | None]:
    """The timeline entry an event makes: its status, any deadline, any sealed note."""
    deadline: date | None = None
    note: str | None = None
    request_id: uuid.UUID | None = None
    match payload:
        case ReferralAcknowledged():
            deadline = payload.response_due
        case InformationRequested():
            note, request_id = payload.question.model_dump_json(), payload.request_id
        case ReferralAccepted():
            deadline = payload.report_due
        case ReferralDeclined():
            note = payload.reason.model_dump_json()
        case AppointmentBooked():
            deadline = payload.appointment_on
        case ReviewCompleted():
            deadline = payload.report_due
    change = StatusChange(
        change_id=envelope.event_id,
        status=STATUS_FOR[type(payload)],
        at=envelope.occurred_at,
        deadline=deadline,
        note=note,
    )
    return change, request_id
