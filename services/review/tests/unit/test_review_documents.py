"""How a case is stored: the document's shape stays as it was, and every case loads back."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from corroborate.crypto import WrappedKey
from corroborate.events.contracts import (
    ClinicalFindings,
    DocumentReference,
    RiskFlag,
    SealedDetails,
)
from corroborate.walk.samples import sample_findings
from review.adapters.repository import CaseDocument
from review.domain.assessment import Photograph
from review.domain.case import Eligibility, RemitBasis, ReviewCase

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
SEALED = SealedDetails(
    wrapped_key=WrappedKey(key_id="k1", ciphertext="d3JhcHBlZA=="), ciphertext="c2VhbGVk"
)


def worked_case() -> ReviewCase:
    """A case taken through every step that leaves something on it."""
    document = DocumentReference(
        document_id=uuid.uuid4(),
        kind="witness_statement",
        content_type="application/pdf",
        size=10,
        sha256="a" * 64,
        received_at=T0,
    )
    case = ReviewCase.received(
        case_id=uuid.uuid4(),
        reference="CRB-2025-ABCDEF",
        organisation="org-a",
        service_requested="full_report",
        risk_flags=[RiskFlag.DETAINED],
        documents=[document],
        received_at=T0,
        response_days=7,
        correlation_id=uuid.uuid4(),
        urgent_dates={"appeal_hearing": date(2025, 4, 1)},
        rule_35_report=False,
        languages=["ti"],
        interpreter_needed=True,
        question_count=1,
    )
    request_id = uuid.uuid4()
    case.request_information(by="coordinator-1", at=T0, request_id=request_id)
    case.information_provided(request_id=request_id, at=T0 + timedelta(days=1), documents=[])
    eligible = Eligibility(True, RemitBasis.UN_CONVENTION_AGAINST_TORTURE, True, True)
    case.accept(by="coordinator-1", at=T0, delivery_days=150, eligibility=eligible)
    case.assign(clinician_id="dr-1", by="coordinator-1", at=T0, reason=None)
    appointment = case.book_appointment(
        on=date(2025, 3, 10), remote=False, interpreter_language="ti", by="dr-1", at=T0
    )
    case.record_consent(
        appointment_id=appointment.appointment_id,
        examination=True,
        photography=True,
        by="dr-1",
        at=T0,
    )
    case.add_photograph(
        Photograph(
            photograph_id=uuid.uuid4(),
            appointment_id=appointment.appointment_id,
            sha256="b" * 64,
            size=20,
            content_type="image/png",
            object_key="cases/x/photographs/y",
            taken_by="dr-1",
            received_at=T0,
        )
    )
    case.record_findings(ClinicalFindings.model_validate(sample_findings()), by="dr-1", at=T0)
    case.submit_for_peer_review(by="dr-1", at=T0)
    case.peer_review(approve=False, by="senior-1", at=T0, comments="more detail")
    case.escalations.append("report_due_soon")
    case.version = 7
    return case


def test_ids_and_dates_are_text_times_are_dates_and_contract_models_their_json() -> None:
    case = worked_case()
    document = CaseDocument.received(case, protected=SEALED)

    assert document["_id"] == str(case.case_id)
    assert "case_id" not in document
    assert "version" not in document
    assert document["correlation_id"] == str(case.correlation_id)
    assert document["risk_flags"] == ["detained"]
    assert document["urgent_dates"] == {"appeal_hearing": "2025-04-01"}
    assert document["report_due"] == str(case.report_due)
    assert document["received_at"] == T0
    assert document["accepted_at"] == T0
    assert document["documents"][0]["received_at"] == "2025-03-03T09:00:00Z"
    assert document["protected"] == SEALED.model_dump()
    assert document["clinician_id"] == "dr-1"
    decision: dict[str, Any] = document["decisions"][-1]
    assert decision == {
        "outcome": "accept",
        "by": "coordinator-1",
        "at": T0,
        "eligibility": {
            "within_remit": True,
            "remit_basis": "un_convention_against_torture",
            "material_to_claim": True,
            "documents_sufficient": True,
        },
        "request_id": None,
    }
    assert document["decisions"][0]["request_id"] == str(case.decisions[0].request_id)
    appointment = document["appointments"][0]
    assert appointment["appointment_id"] == str(case.appointments[0].appointment_id)
    assert appointment["on"] == "2025-03-10"
    assert appointment["booked_at"] == T0
    assert appointment["photography_consent"] == {
        "given": True,
        "recorded_by": "dr-1",
        "recorded_at": T0,
    }
    photograph = document["photographs"][0]
    assert photograph["photograph_id"] == str(case.photographs[0].photograph_id)
    assert photograph["received_at"] == T0
    assert document["versions"][0]["findings"] == case.findings.model_dump(mode="json")  # type: ignore[union-attr]
    assert document["notes"] == [
        {
            "verdict": "returned",
            "by": "senior-1",
            "at": T0,
            "draft_version": 1,
            "comments": "more detail",
        }
    ]
    assert document["assignments"] == [
        {"clinician_id": "dr-1", "assigned_by": "coordinator-1", "assigned_at": T0, "reason": None}
    ]


def test_a_save_writes_only_what_can_change() -> None:
    case = worked_case()
    changes = CaseDocument.changes(case)
    received = CaseDocument.received(case, protected=SEALED)

    assert set(received) - set(changes) == {"_id", "protected", *CaseDocument.RECEIVED}
    assert changes["status"] == "assigned"


def test_a_stored_case_loads_back_as_it_was() -> None:
    case = worked_case()
    raw = CaseDocument.received(case, protected=SEALED) | {"version": 7, "outbox": []}

    assert CaseDocument.load(raw) == case
    assert CaseDocument.protected(raw) == SEALED
    assert CaseDocument.protected(raw | {"protected": {"erased": True}}) is None


def test_a_document_written_before_later_fields_existed_still_loads() -> None:
    case = worked_case()
    raw = CaseDocument.received(case, protected=SEALED) | {"version": 3}
    for later in ("question_count", "appointments", "photographs", "versions", "notes"):
        del raw[later]
    for later in ("escalations", "decisions", "languages", "urgent_dates", "submitted_at"):
        del raw[later]

    loaded = CaseDocument.load(raw)

    assert loaded.question_count == 1
    assert loaded.appointments == []
    assert loaded.notes == []
    assert loaded.escalations == []
    assert loaded.urgent_dates == {}
    assert loaded.submitted_at is None
    assert loaded.findings == case.findings
    assert loaded.version == 3
