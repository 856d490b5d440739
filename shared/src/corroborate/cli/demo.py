"""``corroborate demo``: one referral walked from submission to an issued report, over HTTP.

Each person (partner, coordinator, clinician, senior clinician, legal reviewer) calls the
running services with a token from the local issuer, exactly as a user's client would; the
steps are ``corroborate.walk``'s, each reported as it is taken.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from corroborate.auth import Role
from corroborate.settings import Settings
from corroborate.walk.calls import Bearer, DirectHttp, WalkFailed
from corroborate.walk.samples import minimal_pdf, roster_entry, sample_photograph, sample_referral
from corroborate.walk.steps import People, ReferralWalk, Services, put_on_roster

CLINICIAN = "dr-clinician-1"
SENIOR = "dr-senior-1"


@dataclass(frozen=True)
class DemoResult:
    case_id: uuid.UUID
    reference: str
    correlation_id: uuid.UUID
    report_id: uuid.UUID
    report_sha256: str
    report_object_key: str
    pdf: bytes
    document_sha256: str


def demo_people(settings: Settings, *, organisation: str) -> People:
    bearer = Bearer(settings)
    return People(
        partner=bearer(Role.PARTNER, "solicitor-1", organisation=organisation),
        coordinator=bearer(Role.COORDINATOR, "coordinator-1"),
        clinicians={CLINICIAN: bearer(Role.CLINICIAN, CLINICIAN, name="Dr A. Clinician")},
        senior=bearer(Role.SENIOR_CLINICIAN, SENIOR, name="Dr B. Senior"),
        legal=bearer(Role.LEGAL, "legal-1"),
    )


async def _refer(
    walk: ReferralWalk,
    survivor_name: str,
    document: bytes,
    correlation_id: uuid.UUID,
    report: Callable[[str], None],
) -> str:
    """The partner drafts over two sittings, uploads the document and submits; the answer is
    the document's SHA-256 as intake received it."""
    form = sample_referral(survivor_name)
    later = {"consent": form.pop("consent"), "questions": form.pop("questions")}
    created = await walk.draft(form)
    report(
        f"partner: referral {created['reference']} drafted (case {walk.case_id}); "
        f"still missing: {', '.join(m.split(':')[0] for m in created['missing'])}"
    )
    completed = await walk.complete(later)
    report(f"partner: draft completed; missing now: {completed['missing'] or 'nothing'}")
    receipt = await walk.upload(document)
    report(f"partner: document received, sha256 {receipt['sha256']}")
    submitted = await walk.submit(correlation_id=correlation_id)
    report(f"partner: submitted, status {submitted['status']}")
    return str(receipt["sha256"])


async def _triage_and_assess(walk: ReferralWalk, report: Callable[[str], None]) -> None:
    """The coordinator accepts and assigns, the clinician assesses, the senior approves."""
    review, coordinator = walk.services.review, walk.people.coordinator
    await walk.reaches_triage()
    report("coordinator: referral is in the triage queue")
    await walk.accept()
    report("coordinator: accepted")
    await put_on_roster(review, coordinator, CLINICIAN, roster_entry("Dr A. Clinician"))
    best = (await walk.suggestions())[0]
    report(f"coordinator: best fit {best['clinician_id']} ({'; '.join(best['reasons'])})")
    await walk.assign(CLINICIAN)
    report(f"coordinator: assigned to {CLINICIAN}")
    await walk.assess(photograph=sample_photograph())
    report("clinician: appointment, consents, photograph, findings (1 lesion), submitted")
    await put_on_roster(
        review, coordinator, SENIOR, roster_entry("Dr B. Senior", capacity=5, senior=True)
    )
    await walk.approve()
    report("senior clinician: approved in peer review")


async def walk_skeleton(
    settings: Settings,
    *,
    survivor_name: str,
    document: bytes,
    organisation: str = "demo-solicitors",
    report: Callable[[str], None] = lambda _line: None,
) -> DemoResult:
    """Drive one referral through all three services; raise ``WalkFailed`` on any failure."""
    correlation_id = uuid.uuid4()
    async with httpx.AsyncClient(timeout=30.0) as http:
        walk = ReferralWalk(
            Services(
                intake=DirectHttp(http, settings.intake_url),
                review=DirectHttp(http, settings.review_url),
                reporting=DirectHttp(http, settings.reporting_url),
            ),
            demo_people(settings, organisation=organisation),
        )
        document_sha256 = await _refer(walk, survivor_name, document, correlation_id, report)
        await _triage_and_assess(walk, report)
        await walk.reaches_legal_review()
        issued = (await walk.sign_off())["reports"][-1]
        report(f"legal: signed off; report v{issued['version']} issued")
        view = await walk.partner_sees_issued()
        report(f"partner: status {view['status']}")
        pdf = await walk.download_report()
        if hashlib.sha256(pdf).hexdigest() != view["report"]["sha256"]:
            raise WalkFailed("partner downloads: the PDF does not match the issued SHA-256")
        report(f"partner: downloaded {len(pdf)} bytes, SHA-256 verified")
        case_id = uuid.UUID(str(walk.case_id))
        return DemoResult(
            case_id=case_id,
            reference=str(walk.reference),
            correlation_id=correlation_id,
            report_id=uuid.UUID(issued["report_id"]),
            report_sha256=issued["sha256"],
            report_object_key=f"cases/{case_id}/reports/v{issued['version']}-{issued['report_id']}.pdf",
            pdf=pdf,
            document_sha256=document_sha256,
        )


async def run_demo(
    *, settings: Settings, survivor_name: str, document: Path | None, out: Path
) -> bool:
    content = (
        await asyncio.to_thread(document.read_bytes)
        if document
        else minimal_pdf("Home Office decision (demo)")
    )
    try:
        result = await walk_skeleton(
            settings, survivor_name=survivor_name, document=content, report=print
        )
    except WalkFailed as exc:
        print(f"FAILED: {exc}")
        return False
    await asyncio.to_thread(out.write_bytes, result.pdf)
    print(f"report written to {out}")
    print(f"object key: {settings.bucket_name('reports')}/{result.report_object_key}")
    print(f"sha256: {result.report_sha256}")
    return True
