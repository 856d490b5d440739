"""The report rendered to PDF: what a tribunal reads."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from corroborate.events.contracts import PhotographReference, ProtectedDetails
from reporting.adapters.pdf import render_pdf
from reporting.domain.legal_review import LegalReview
from reporting.domain.report import assemble

pytestmark = pytest.mark.integration

MakeReview = Callable[..., LegalReview]


async def test_the_rendered_report_carries_the_case_and_its_findings(
    make_review: MakeReview, survivor: ProtectedDetails
) -> None:
    review = make_review()
    review.sign(by="legal-1", at=datetime.now(UTC), statement="Approved for issue.")
    content = assemble(review, survivor=survivor, version=1, generated_at=datetime.now(UTC))

    pdf = await render_pdf(content)

    assert pdf.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    flat = " ".join(text.split())
    assert review.reference in flat
    assert "Upper back" in flat
    assert "Page 1 of" in flat
    assert f"Page 1 of {len(reader.pages)}" in flat
    assert survivor.full_name in flat
    assert "highly consistent with" in flat
    assert "Dr Abeba Clinician" in flat
    assert "Approved for issue." in flat
    assert review.documents[0].sha256[:16] in flat.replace(" ", "")


SECTIONS = [
    "1. Case information",
    "2. The clinician's qualifications",
    "3. Statement of truth and duties to the tribunal",
    "4. Background",
    "5. Allegations of torture and ill-treatment",
    "6. Physical symptoms and disabilities",
    "7. Physical examination",
    "8. Psychological assessment",
    "9. Photographs and body diagrams",
    "10. Interpretation of findings",
    "11. Conclusions and recommendations",
    "12. Statement of restrictions",
    "13. Signatures",
    "Annex A. Documents reviewed",
]


async def test_every_section_is_there_and_the_tables_match_the_findings(
    make_review: MakeReview, survivor: ProtectedDetails
) -> None:
    base = make_review()
    photo_hash = "ab" * 32
    findings = base.findings.model_copy(
        update={
            "photographs": [
                PhotographReference(
                    photograph_id=uuid.uuid4(), sha256=photo_hash, lesion=1, caption="With scale"
                )
            ]
        }
    )
    review = make_review(findings=findings, clinician_qualifications="MBBS, MRCGP; 12 years.")
    review.sign(by="legal-1", at=datetime(2026, 3, 2, tzinfo=UTC), statement="Approved.")
    content = assemble(review, survivor=survivor, version=2, generated_at=datetime.now(UTC))

    reader = PdfReader(io.BytesIO(await render_pdf(content)))
    flat = " ".join("\n".join(p.extract_text() for p in reader.pages).split())
    squashed = flat.replace(" ", "")

    positions = [flat.find(section) for section in SECTIONS]
    assert all(p >= 0 for p in positions), [
        s for s, p in zip(SECTIONS, positions, strict=True) if p < 0
    ]
    assert positions == sorted(positions)  # in the order the Istanbul Protocol gives
    for lesion in review.findings.lesions:
        assert lesion.description in flat
        assert lesion.attributed_cause in flat
    assert "MBBS, MRCGP; 12 years." in flat
    assert "6B40 Post-traumatic stress disorder" in flat
    assert "PCL-5 58 probable PTSD" in flat
    assert f"Question 1: {survivor.questions[0]}" in flat
    assert review.findings.answers[0].answer in flat
    assert "Lesion 1 With scale" in flat
    assert photo_hash in squashed
    for document in review.documents:
        assert document.sha256 in squashed
    assert "Version 2" in flat
    assert all(f"of {len(reader.pages)}" in (page.extract_text() or "") for page in reader.pages)


async def test_the_same_inputs_give_the_same_bytes(
    make_review: MakeReview, survivor: ProtectedDetails
) -> None:
    review = make_review()
    review.sign(by="legal-1", at=datetime(2026, 3, 2, tzinfo=UTC), statement="Approved.")
    at = datetime(2026, 3, 2, 12, tzinfo=UTC)
    first = await render_pdf(assemble(review, survivor=survivor, version=1, generated_at=at))
    second = await render_pdf(assemble(review, survivor=survivor, version=1, generated_at=at))
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
