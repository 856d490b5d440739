"""A case in review: triage, acceptance, assignment, and the clinician's findings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from corroborate.events.contracts import ClinicalFindings, DocumentReference, RiskFlag


class CaseStatus(StrEnum):
    AWAITING_TRIAGE = "awaiting_triage"
    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    REVIEW_COMPLETED = "review_completed"


class InvalidTransition(Exception):
    """The case is not in a state that allows this."""


class NotAssigned(Exception):
    """Only the clinician assigned to a case may work on it."""


# Weights for the triage queue; each flag also shows as a reason beside the case.
URGENCY_WEIGHTS: dict[RiskFlag, int] = {
    RiskFlag.SUICIDE_OR_SELF_HARM_RISK: 50,
    RiskFlag.IMMINENT_REMOVAL: 40,
    RiskFlag.DETAINED: 35,
    RiskFlag.HEALTH_EMERGENCY: 35,
    RiskFlag.UNDER_18: 30,
    RiskFlag.PREGNANCY: 25,
}
WAITING_POINTS_PER_DAY = 2


@dataclass(frozen=True)
class Urgency:
    score: int
    reasons: list[str]


@dataclass
class Assignment:
    clinician_id: str
    assigned_by: str
    assigned_at: datetime


@dataclass
class ReviewCase:
    """The review aggregate. Identity stays sealed; the domain never opens it."""

    case_id: uuid.UUID
    reference: str
    organisation: str
    service_requested: str
    risk_flags: list[RiskFlag]
    documents: list[DocumentReference]
    received_at: datetime
    response_due: datetime
    correlation_id: uuid.UUID
    status: CaseStatus = CaseStatus.AWAITING_TRIAGE
    version: int = 0
    accepted_by: str | None = None
    accepted_at: datetime | None = None
    report_due: date | None = None
    assignments: list[Assignment] = field(default_factory=list)
    findings: ClinicalFindings | None = None
    completed_at: datetime | None = None

    @classmethod
    def received(
        cls,
        *,
        case_id: uuid.UUID,
        reference: str,
        organisation: str,
        service_requested: str,
        risk_flags: list[RiskFlag],
        documents: list[DocumentReference],
        received_at: datetime,
        response_days: int,
        correlation_id: uuid.UUID,
    ) -> ReviewCase:
        return cls(
            case_id=case_id,
            reference=reference,
            organisation=organisation,
            service_requested=service_requested,
            risk_flags=risk_flags,
            documents=documents,
            received_at=received_at,
            response_due=received_at + timedelta(days=response_days),
            correlation_id=correlation_id,
        )

    @property
    def clinician_id(self) -> str | None:
        return self.assignments[-1].clinician_id if self.assignments else None

    def urgency(self, *, now: datetime) -> Urgency:
        reasons = [flag.value.replace("_", " ") for flag in self.risk_flags]
        score = sum(URGENCY_WEIGHTS[flag] for flag in self.risk_flags)
        waiting_days = max(0, (now - self.received_at).days)
        if waiting_days:
            score += waiting_days * WAITING_POINTS_PER_DAY
            reasons.append(f"waiting {waiting_days} day(s)")
        if now > self.response_due:
            reasons.append("triage response overdue")
        return Urgency(score=score, reasons=reasons)

    def accept(self, *, by: str, at: datetime, delivery_days: int) -> date:
        if self.status is not CaseStatus.AWAITING_TRIAGE:
            raise InvalidTransition(f"a case that is {self.status.value} cannot be accepted")
        self.status = CaseStatus.ACCEPTED
        self.accepted_by = by
        self.accepted_at = at
        self.report_due = (at + timedelta(days=delivery_days)).date()
        return self.report_due

    def assign(self, *, clinician_id: str, by: str, at: datetime) -> None:
        if self.status not in {CaseStatus.ACCEPTED, CaseStatus.ASSIGNED}:
            raise InvalidTransition(f"a case that is {self.status.value} cannot be assigned")
        self.status = CaseStatus.ASSIGNED
        self.assignments.append(
            Assignment(clinician_id=clinician_id, assigned_by=by, assigned_at=at)
        )

    def ensure_assigned_to(self, clinician_id: str) -> None:
        if self.clinician_id != clinician_id:
            raise NotAssigned(str(self.case_id))

    def record_findings(self, findings: ClinicalFindings, *, by: str) -> None:
        self.ensure_assigned_to(by)
        if self.status is not CaseStatus.ASSIGNED:
            raise InvalidTransition(f"findings cannot change once the case is {self.status.value}")
        self.findings = findings

    def complete(self, *, by: str, at: datetime) -> ClinicalFindings:
        self.ensure_assigned_to(by)
        if self.status is not CaseStatus.ASSIGNED:
            raise InvalidTransition(f"a case that is {self.status.value} cannot be submitted")
        if self.findings is None:
            raise InvalidTransition("record findings before submitting")
        if not self.findings.lesions and self.service_requested == "full_report":
            raise InvalidTransition("a full report needs at least one documented lesion")
        self.status = CaseStatus.REVIEW_COMPLETED
        self.completed_at = at
        return self.findings
