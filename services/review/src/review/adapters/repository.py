"""Review cases in MongoDB: every query review makes lives here."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import date

from pymongo.asynchronous.collection import AsyncCollection

from corroborate.events.contracts import (
    ClinicalFindings,
    DocumentReference,
    RiskFlag,
    SealedDetails,
)
from corroborate.events.envelope import EventEnvelope
from corroborate.mongo import AggregateCollection, Document
from review.domain.assessment import (
    Appointment,
    ConsentRecord,
    DraftVersion,
    Photograph,
    ReviewerVerdict,
    ReviewNote,
)
from review.domain.case import (
    IN_DELIVERY,
    OPEN_CASELOAD,
    Assignment,
    CaseStatus,
    Eligibility,
    Outcome,
    RemitBasis,
    ReviewCase,
    TriageDecision,
)

COLLECTION = "cases"


class CaseErasedError(Exception):
    """The case was erased: its data key is gone here too."""


class StoredCase:
    def __init__(self, case: ReviewCase, *, protected: SealedDetails | None) -> None:
        self.case = case
        self._protected = protected

    @property
    def protected(self) -> SealedDetails:
        if self._protected is None:
            raise CaseErasedError(f"case {self.case.case_id} was erased")
        return self._protected


def _state(case: ReviewCase) -> Document:
    return {
        "status": case.status.value,
        "accepted_by": case.accepted_by,
        "accepted_at": case.accepted_at,
        "report_due": case.report_due.isoformat() if case.report_due else None,
        "clinician_id": case.clinician_id,
        "assignments": [
            {
                "clinician_id": a.clinician_id,
                "assigned_by": a.assigned_by,
                "assigned_at": a.assigned_at,
                "reason": a.reason,
            }
            for a in case.assignments
        ],
        "findings": case.findings.model_dump(mode="json") if case.findings else None,
        "completed_at": case.completed_at,
        "response_due": case.response_due,
        "decisions": [_decision_to_mongo(d) for d in case.decisions],
        "open_request": str(case.open_request) if case.open_request else None,
        "paused_at": case.paused_at,
        "withdrawn_at": case.withdrawn_at,
        "documents": [d.model_dump(mode="json") for d in case.documents],
        "question_count": case.question_count,
        "appointments": [_appointment_to_mongo(a) for a in case.appointments],
        "photographs": [
            asdict(p)
            | {"photograph_id": str(p.photograph_id), "appointment_id": str(p.appointment_id)}
            for p in case.photographs
        ],
        "versions": [
            {
                "number": v.number,
                "findings": v.findings.model_dump(mode="json"),
                "saved_by": v.saved_by,
                "saved_at": v.saved_at,
                "changed": v.changed,
            }
            for v in case.versions
        ],
        "notes": [
            {
                "verdict": n.verdict.value,
                "by": n.by,
                "at": n.at,
                "draft_version": n.draft_version,
                "comments": n.comments,
            }
            for n in case.notes
        ],
        "submitted_at": case.submitted_at,
        "approved_by": case.approved_by,
        "escalations": case.escalations,
    }


def _consent_to_mongo(c: ConsentRecord | None) -> Document | None:
    return (
        None
        if c is None
        else {"given": c.given, "recorded_by": c.recorded_by, "recorded_at": c.recorded_at}
    )


def _consent_from_mongo(raw: Document | None) -> ConsentRecord | None:
    return (
        None if raw is None else ConsentRecord(raw["given"], raw["recorded_by"], raw["recorded_at"])
    )


def _appointment_to_mongo(a: Appointment) -> Document:
    return {
        "appointment_id": str(a.appointment_id),
        "on": a.on.isoformat(),
        "remote": a.remote,
        "interpreter_language": a.interpreter_language,
        "booked_by": a.booked_by,
        "booked_at": a.booked_at,
        "examination_consent": _consent_to_mongo(a.examination_consent),
        "photography_consent": _consent_to_mongo(a.photography_consent),
    }


def _appointment_from_mongo(raw: Document) -> Appointment:
    return Appointment(
        appointment_id=uuid.UUID(raw["appointment_id"]),
        on=date.fromisoformat(raw["on"]),
        remote=raw["remote"],
        interpreter_language=raw.get("interpreter_language"),
        booked_by=raw["booked_by"],
        booked_at=raw["booked_at"],
        examination_consent=_consent_from_mongo(raw.get("examination_consent")),
        photography_consent=_consent_from_mongo(raw.get("photography_consent")),
    )


def _decision_to_mongo(d: TriageDecision) -> Document:
    eligibility = d.eligibility
    return {
        "outcome": d.outcome.value,
        "by": d.by,
        "at": d.at,
        "eligibility": None
        if eligibility is None
        else {
            "within_remit": eligibility.within_remit,
            "remit_basis": eligibility.remit_basis.value if eligibility.remit_basis else None,
            "material_to_claim": eligibility.material_to_claim,
            "documents_sufficient": eligibility.documents_sufficient,
        },
        "request_id": str(d.request_id) if d.request_id else None,
    }


def _decision_from_mongo(raw: Document) -> TriageDecision:
    eligibility = raw.get("eligibility")
    return TriageDecision(
        outcome=Outcome(raw["outcome"]),
        by=raw["by"],
        at=raw["at"],
        eligibility=None
        if eligibility is None
        else Eligibility(
            within_remit=eligibility["within_remit"],
            remit_basis=RemitBasis(eligibility["remit_basis"])
            if eligibility.get("remit_basis")
            else None,
            material_to_claim=eligibility["material_to_claim"],
            documents_sufficient=eligibility["documents_sufficient"],
        ),
        request_id=uuid.UUID(raw["request_id"]) if raw.get("request_id") else None,
    )


class CaseRepository:
    def __init__(
        self, collection: AsyncCollection[Document], *, on_events: Callable[[], None]
    ) -> None:
        self._aggregates = AggregateCollection(collection, on_events=on_events)
        self._collection = collection

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("status", 1), ("received_at", 1)])
        await self._collection.create_index([("clinician_id", 1), ("status", 1)])

    async def add_received(
        self,
        case: ReviewCase,
        *,
        protected: SealedDetails,
        caused_by: uuid.UUID,
        events: list[EventEnvelope],
    ) -> None:
        """Open a case from ``referral.submitted``; the case id makes a redelivery a no-op."""
        await self._aggregates.create(
            document={
                "_id": str(case.case_id),
                "reference": case.reference,
                "organisation": case.organisation,
                "service_requested": case.service_requested,
                "risk_flags": [f.value for f in case.risk_flags],
                "received_at": case.received_at,
                "correlation_id": str(case.correlation_id),
                "urgent_dates": {k: v.isoformat() for k, v in case.urgent_dates.items()},
                "rule_35_report": case.rule_35_report,
                "languages": case.languages,
                "interpreter_needed": case.interpreter_needed,
                "protected": protected.model_dump(),
                **_state(case),
            },
            events=events,
            caused_by=caused_by,
        )
        case.version = 1

    async def get(self, case_id: uuid.UUID) -> StoredCase | None:
        raw = await self._aggregates.load(str(case_id))
        if raw is None:
            return None
        return StoredCase(_load(raw), protected=_erased_protected(raw))

    async def triage_queue(self, *, status: CaseStatus, limit: int) -> list[ReviewCase]:
        cursor = (
            self._collection.find({"status": status.value}, {"outbox": 0, "protected": 0})
            .sort("received_at", 1)
            .limit(limit)
        )
        return [_load(raw) async for raw in cursor]

    async def active(self, *, limit: int) -> list[ReviewCase]:
        """Cases whose deadlines can still be at risk: undecided or being delivered."""
        statuses = [CaseStatus.AWAITING_TRIAGE, *IN_DELIVERY]
        cursor = self._collection.find(
            {"status": {"$in": [s.value for s in statuses]}}, {"outbox": 0, "protected": 0}
        ).limit(limit)
        return [_load(raw) async for raw in cursor]

    async def in_status(self, status: CaseStatus, *, limit: int) -> list[ReviewCase]:
        cursor = (
            self._collection.find({"status": status.value}, {"outbox": 0, "protected": 0})
            .sort("submitted_at", 1)
            .limit(limit)
        )
        return [_load(raw) async for raw in cursor]

    async def assigned_to(self, clinician_id: str, *, limit: int) -> list[ReviewCase]:
        cursor = self._collection.find(
            {"clinician_id": clinician_id, "status": {"$in": [s.value for s in OPEN_CASELOAD]}},
            {"outbox": 0, "protected": 0},
        ).limit(limit)
        return [_load(raw) async for raw in cursor]

    async def erase(self, case: ReviewCase, *, processed_event: uuid.UUID) -> None:
        """Save the erased case with its sealed details' data key destroyed, in one write."""
        await self._aggregates.save(
            aggregate_id=str(case.case_id),
            expected_version=case.version,
            changes=_state(case) | {"protected": {"erased": True}},
            events=[],
            processed_event=processed_event,
        )
        case.version += 1

    async def save(
        self,
        case: ReviewCase,
        *,
        events: list[EventEnvelope],
        processed_event: uuid.UUID | None = None,
    ) -> None:
        await self._aggregates.save(
            aggregate_id=str(case.case_id),
            expected_version=case.version,
            changes=_state(case),
            events=events,
            processed_event=processed_event,
        )
        case.version += 1


def _erased_protected(raw: Document) -> SealedDetails | None:
    protected = raw.get("protected") or {}
    wrapped = protected.get("wrapped_key") or {}
    return SealedDetails.model_validate(protected) if "key_id" in wrapped else None


def _load(raw: Document) -> ReviewCase:
    return ReviewCase(
        case_id=uuid.UUID(raw["_id"]),
        reference=raw["reference"],
        organisation=raw["organisation"],
        service_requested=raw["service_requested"],
        risk_flags=[RiskFlag(f) for f in raw["risk_flags"]],
        documents=[DocumentReference.model_validate(d) for d in raw["documents"]],
        received_at=raw["received_at"],
        response_due=raw["response_due"],
        correlation_id=uuid.UUID(raw["correlation_id"]),
        status=CaseStatus(raw["status"]),
        version=raw["version"],
        accepted_by=raw.get("accepted_by"),
        accepted_at=raw.get("accepted_at"),
        report_due=date.fromisoformat(raw["report_due"]) if raw.get("report_due") else None,
        assignments=[Assignment(**a) for a in raw.get("assignments", [])],
        findings=ClinicalFindings.model_validate(raw["findings"]) if raw.get("findings") else None,
        completed_at=raw.get("completed_at"),
        urgent_dates={k: date.fromisoformat(v) for k, v in raw.get("urgent_dates", {}).items()},
        rule_35_report=raw.get("rule_35_report"),
        languages=raw.get("languages", []),
        interpreter_needed=raw.get("interpreter_needed", False),
        decisions=[_decision_from_mongo(d) for d in raw.get("decisions", [])],
        open_request=uuid.UUID(raw["open_request"]) if raw.get("open_request") else None,
        paused_at=raw.get("paused_at"),
        withdrawn_at=raw.get("withdrawn_at"),
        question_count=raw.get("question_count", 1),
        appointments=[_appointment_from_mongo(a) for a in raw.get("appointments", [])],
        photographs=[
            Photograph(
                **{
                    **p,
                    "photograph_id": uuid.UUID(p["photograph_id"]),
                    "appointment_id": uuid.UUID(p["appointment_id"]),
                }
            )
            for p in raw.get("photographs", [])
        ],
        versions=[
            DraftVersion(
                number=v["number"],
                findings=ClinicalFindings.model_validate(v["findings"]),
                saved_by=v["saved_by"],
                saved_at=v["saved_at"],
                changed=v["changed"],
            )
            for v in raw.get("versions", [])
        ],
        notes=[
            ReviewNote(
                verdict=ReviewerVerdict(n["verdict"]),
                by=n["by"],
                at=n["at"],
                draft_version=n["draft_version"],
                comments=n["comments"],
            )
            for n in raw.get("notes", [])
        ],
        submitted_at=raw.get("submitted_at"),
        approved_by=raw.get("approved_by"),
        escalations=raw.get("escalations", []),
    )
