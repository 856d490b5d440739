"""The report rendered to PDF: what a tribunal reads."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from corroborate.events.contracts import ProtectedDetails
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
