"""Fixtures for reporting's tests: a case as review hands it over, with sealed identity."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from corroborate.events.contracts import ClinicalFindings, DocumentReference, ProtectedDetails
from corroborate.walk.samples import sample_findings
from reporting.domain.legal_review import LegalReview

SURVIVOR_NAME = "Yonas Canary-Berhane"
HOME_OFFICE_REFERENCE = "HO-CANARY-5521"
MakeReview = Callable[..., LegalReview]


@pytest.fixture
def survivor() -> ProtectedDetails:
    return ProtectedDetails(
        full_name=SURVIVOR_NAME,
        other_names=["Yoni"],
        date_of_birth=date(1989, 8, 30),
        home_office_reference=HOME_OFFICE_REFERENCE,
        account="Detained for four months in 2023 and beaten with sticks on the back.",
        questions=["Are the scars on the back consistent with the account of beatings?"],
    )


@pytest.fixture
def findings() -> ClinicalFindings:
    return ClinicalFindings.model_validate(sample_findings())


@pytest.fixture
def documents() -> list[DocumentReference]:
    def document(kind: str, day: int) -> DocumentReference:
        return DocumentReference(
            document_id=uuid.uuid4(),
            kind=kind,
            content_type="application/pdf",
            size=1000 + day,
            sha256=secrets.token_hex(32),
            received_at=datetime(2025, 2, day, 10, 0, tzinfo=UTC),
        )

    return [document("witness_statement", 20), document("home_office_decision", 3)]


@pytest.fixture
def make_review(findings: ClinicalFindings, documents: list[DocumentReference]) -> MakeReview:
    def build(**overrides: object) -> LegalReview:
        fields: dict[str, object] = {
            "case_id": uuid.uuid4(),
            "reference": f"CRB-2025-{secrets.token_hex(3).upper()}",
            "organisation": "solicitors-a",
            "clinician_id": "dr-1",
            "clinician_name": "Dr Abeba Clinician",
            "approved_by": "Dr Senior Reviewer",
            "findings": findings,
            "documents": documents,
            "report_due": date(2025, 8, 1),
            "received_at": datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
            "correlation_id": uuid.uuid4(),
        }
        fields.update(overrides)
        return LegalReview(**fields)  # type: ignore[arg-type]

    return build
