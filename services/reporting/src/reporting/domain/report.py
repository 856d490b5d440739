"""What a medico-legal report says, assembled from the case; rendering is an adapter's job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from corroborate.events.contracts import ClinicalFindings, DocumentReference, ProtectedDetails
from corroborate.vocab import vocabulary
from reporting.domain.legal_review import LegalReview, SignOff


@dataclass(frozen=True)
class LesionRow:
    number: int
    region: str
    lesion_type: str
    size: str
    description: str
    attributed_cause: str
    consistency: str


@dataclass(frozen=True)
class AnsweredQuestion:
    number: int
    question: str
    answer: str


@dataclass(frozen=True)
class PhotographRow:
    number: int
    lesion: str
    caption: str
    sha256: str


@dataclass(frozen=True)
class ReportContent:
    """Everything the template shows; built once so the same inputs give the same report."""

    reference: str
    version: int
    generated_on: date
    organisation: str
    survivor: ProtectedDetails
    clinician_name: str
    clinician_qualifications: str
    senior_clinician: str | None  # None: no clinical peer review is recorded
    sign_off: SignOff
    findings: ClinicalFindings
    overall_consistency: str
    lesions: list[LesionRow]
    documents: list[DocumentReference]
    completed_on: date | None
    answers: list[AnsweredQuestion]
    photographs: list[PhotographRow]
    body_map_version: str


def consistency_label(code: str) -> str:
    return vocabulary("consistency_levels").label(code)


def assemble(
    review: LegalReview, *, survivor: ProtectedDetails, version: int, generated_at: datetime
) -> ReportContent:
    if review.sign_off is None:
        raise ValueError("a report is assembled only after legal sign-off")
    regions = vocabulary("body_regions")
    answers = {a.question: a.answer for a in review.findings.answers}
    types = vocabulary("lesion_types")
    rows = [
        LesionRow(
            number=i,
            region=regions.label(lesion.region),
            lesion_type=types.label(lesion.lesion_type),
            size=f"{lesion.size_mm} mm" if lesion.size_mm else "not measured",
            description=lesion.description,
            attributed_cause=lesion.attributed_cause,
            consistency=consistency_label(lesion.consistency),
        )
        for i, lesion in enumerate(review.findings.lesions, start=1)
    ]
    return ReportContent(
        reference=review.reference,
        version=version,
        generated_on=generated_at.date(),
        organisation=review.organisation,
        survivor=survivor,
        clinician_name=review.clinician_name,
        clinician_qualifications=review.clinician_qualifications,
        senior_clinician=review.approved_by,
        sign_off=review.sign_off,
        findings=review.findings,
        overall_consistency=consistency_label(review.findings.overall_consistency),
        lesions=rows,
        documents=sorted(review.documents, key=lambda d: (d.received_at, str(d.document_id))),
        completed_on=review.received_at.date(),
        answers=[
            AnsweredQuestion(
                number=number,
                question=question,
                answer=answers.get(number, "Not answered in this report."),
            )
            for number, question in enumerate(survivor.questions, start=1)
        ],
        body_map_version=regions.version,
        photographs=[
            PhotographRow(
                number=i,
                lesion=f"Lesion {photo.lesion}" if photo.lesion else "General view",
                caption=photo.caption,
                sha256=photo.sha256,
            )
            for i, photo in enumerate(review.findings.photographs, start=1)
        ],
    )
