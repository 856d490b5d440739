"""``corroborate demo``: one referral walked from submission to an issued report, over HTTP.

Each actor (partner, coordinator, clinician, legal reviewer) calls the running services with a
token from the local issuer, exactly as a user's client would.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from corroborate.auth import Role, issue_token
from corroborate.settings import Settings

POLL_SECONDS = 0.25
WAIT_SECONDS = 60.0


class StepFailed(Exception):
    """A step of the walkthrough did not get the answer it needed."""


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


ACCEPT: dict[str, Any] = {
    "outcome": "accept",
    "eligibility": {
        "within_remit": True,
        "remit_basis": "un_convention_against_torture",
        "material_to_claim": True,
        "documents_sufficient": True,
    },
}
"""The triage panel's decision to accept, with every eligibility item met."""


def sample_referral(survivor_name: str) -> dict[str, Any]:
    """A complete referral, as a solicitor would fill in the form."""
    return {
        "representative": {
            "organisation_name": "Example Immigration Law LLP",
            "name": "A. Solicitor",
            "email": "referrals@example.org",
            "phone": "+44 20 7946 0000",
        },
        "survivor": {
            "full_name": survivor_name,
            "other_names": [],
            "date_of_birth": "1991-04-12",
            "gender": "male",
            "nationality": "ER",
            "country_of_origin": "ER",
            "languages": ["ti"],
            "interpreter_needed": True,
            "interpreter_gender": "male",
            "contact": {"phone": "+44 7700 900123"},
        },
        "immigration": {
            "stage": "refused",
            "home_office_reference": "HO-DEMO-0001",
            "decision_date": "2026-09-30",
        },
        "detention": {"detained": True, "place": "Harmondsworth IRC", "rule_35_report": False},
        "service_requested": "full_report",
        "allegations": {
            "countries": ["ER"],
            "period": {"start": "2023-02", "end": "2023-06"},
            "methods": ["beating", "stress_positions"],
            "perpetrators": ["military"],
            "account": "Detained for four months in 2023 and beaten with sticks on the back.",
        },
        "risk_flags": ["detained"],
        "consent": {
            "referral_and_assessment": True,
            "referral_consent_recorded_by": "A. Solicitor",
            "referral_consent_recorded_at": datetime.now(UTC).isoformat(),
            "anonymised_use": True,
        },
        "questions": ["Are the scars on the back consistent with the account of beatings?"],
    }


def sample_findings() -> dict[str, Any]:
    return {
        "lesions": [
            {
                "region": "upper_back",
                "lesion_type": "scar",
                "size_mm": 80,
                "description": "Three linear hyperpigmented scars, parallel, 70-90 mm long.",
                "attributed_cause": "Beating with a stick",
                "consistency": "highly_consistent_with",
            }
        ],
        "overall_consistency": "highly_consistent_with",
        "interpretation": "The pattern of parallel linear scars is highly consistent with the "
        "beatings described.",
        "conclusions": "The physical findings support the account given.",
        "history": "Reports detention for four months in 2023 with repeated beatings.",
        "physical_symptoms": "Pain across the upper back when lifting.",
        "psychological": {
            "symptoms": ["intrusive memories", "sleep disturbance"],
            "diagnoses": [{"code": "6B40", "label": "Post-traumatic stress disorder"}],
            "instruments": [
                {"instrument": "PCL-5", "score": 58, "interpretation": "probable PTSD"}
            ],
            "assessment": "Presentation typical of a survivor of repeated detention violence.",
        },
        "answers": [
            {
                "question": 1,
                "answer": "Yes: the scars are highly consistent with the beatings described.",
            }
        ],
    }


def sample_photograph() -> bytes:
    """A small PNG standing in for a clinical photograph."""
    image = Image.new("RGB", (120, 80), (196, 150, 120))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def minimal_pdf(text: str) -> bytes:
    """A small valid PDF to attach when no document is given."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


class Actors:
    """Bearer tokens for each role, signed by the local issuer."""

    def __init__(self, settings: Settings, *, organisation: str) -> None:
        if settings.auth_private_key_file is None:
            raise StepFailed("CORROBORATE_AUTH_PRIVATE_KEY_FILE is not set (run make up first)")
        key = settings.auth_private_key_file.read_text(encoding="utf-8")

        def token(
            role: Role, subject: str, org: str | None = None, name: str | None = None
        ) -> dict[str, str]:
            signed = issue_token(
                private_key_pem=key,
                issuer=settings.auth_issuer,
                subject=subject,
                role=role,
                organisation=org,
                name=name,
            )
            return {"Authorization": f"Bearer {signed}"}

        self.partner = token(Role.PARTNER, "solicitor-1", organisation)
        self.coordinator = token(Role.COORDINATOR, "coordinator-1")
        self.clinician = token(Role.CLINICIAN, "dr-clinician-1", name="Dr A. Clinician")
        self.senior = token(Role.SENIOR_CLINICIAN, "dr-senior-1", name="Dr B. Senior")
        self.legal = token(Role.LEGAL, "legal-1")


def _expect(response: httpx.Response, status: int, step: str) -> Any:
    if response.status_code != status:
        raise StepFailed(f"{step}: HTTP {response.status_code}: {response.text[:500]}")
    return (
        response.json()
        if response.headers.get("content-type", "").startswith("application/json")
        else None
    )


async def _until(step: str, probe: Callable[[], Awaitable[Any]]) -> Any:
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise StepFailed(f"{step}: nothing after {WAIT_SECONDS:.0f}s")
        await asyncio.sleep(POLL_SECONDS)


async def _triage_and_assign(
    http: httpx.AsyncClient,
    review: str,
    actors: Actors,
    case_id: uuid.UUID,
    report: Callable[[str], None],
) -> None:
    """The coordinator finds the referral in triage, accepts it, and assigns a clinician."""

    async def in_triage() -> bool:
        queue = _expect(
            await http.get(f"{review}/triage", headers=actors.coordinator),
            200,
            "coordinator reads the triage queue",
        )
        return any(item["case_id"] == str(case_id) for item in queue)

    await _until("the referral reaches triage", in_triage)
    report("coordinator: referral is in the triage queue")
    _expect(
        await http.post(
            f"{review}/cases/{case_id}/decision",
            json=ACCEPT,
            headers=actors.coordinator,
        ),
        200,
        "coordinator accepts",
    )
    report("coordinator: accepted")
    _expect(
        await http.put(
            f"{review}/roster/dr-clinician-1",
            json={
                "name": "Dr A. Clinician",
                "disciplines": ["physical", "psychological"],
                "languages": ["en", "ti"],
                "capacity": 20,
            },
            headers=actors.coordinator,
        ),
        200,
        "coordinator keeps the roster",
    )
    suggested = _expect(
        await http.get(f"{review}/cases/{case_id}/suggestions", headers=actors.coordinator),
        200,
        "coordinator asks who fits",
    )
    best = suggested[0]
    report(f"coordinator: best fit {best['clinician_id']} ({'; '.join(best['reasons'])})")
    _expect(
        await http.post(
            f"{review}/cases/{case_id}/assignment",
            json={"clinician_id": "dr-clinician-1"},
            headers=actors.coordinator,
        ),
        200,
        "coordinator assigns",
    )
    report("coordinator: assigned to dr-clinician-1")


async def _assess(
    http: httpx.AsyncClient,
    review: str,
    actors: Actors,
    case_id: uuid.UUID,
    report: Callable[[str], None],
) -> None:
    """An appointment with consents, a photograph, the findings, and clinical peer review."""
    booked = _expect(
        await http.post(
            f"{review}/cases/{case_id}/appointments",
            json={
                "on": datetime.now(UTC).date().isoformat(),
                "remote": False,
                "interpreter_language": "ti",
            },
            headers=actors.coordinator,
        ),
        201,
        "coordinator books an appointment",
    )
    appointment = booked["appointments"][-1]["appointment_id"]
    _expect(
        await http.put(
            f"{review}/cases/{case_id}/appointments/{appointment}/consent",
            json={"examination": True, "photography": True},
            headers=actors.clinician,
        ),
        200,
        "clinician records consent",
    )
    photo = _expect(
        await http.post(
            f"{review}/cases/{case_id}/photographs",
            params={"appointment_id": appointment},
            content=sample_photograph(),
            headers=actors.clinician,
        ),
        201,
        "clinician attaches a photograph",
    )
    findings = sample_findings()
    findings["photographs"] = [
        {
            "photograph_id": photo["photograph_id"],
            "sha256": photo["sha256"],
            "lesion": 1,
            "caption": "Upper back, with scale",
        }
    ]
    _expect(
        await http.put(
            f"{review}/cases/{case_id}/findings", json=findings, headers=actors.clinician
        ),
        200,
        "clinician records findings",
    )
    _expect(
        await http.post(f"{review}/cases/{case_id}/findings/submit", headers=actors.clinician),
        200,
        "clinician submits for peer review",
    )
    report("clinician: appointment, consents, photograph, findings (1 lesion), submitted")
    _expect(
        await http.put(
            f"{review}/roster/dr-senior-1",
            json={
                "name": "Dr B. Senior",
                "disciplines": ["physical", "psychological"],
                "capacity": 5,
                "senior": True,
            },
            headers=actors.coordinator,
        ),
        200,
        "coordinator adds the senior clinician",
    )
    _expect(
        await http.post(
            f"{review}/cases/{case_id}/peer-review",
            json={"verdict": "approve", "comments": "Sound and complete."},
            headers=actors.senior,
        ),
        200,
        "senior clinician approves",
    )
    report("senior clinician: approved in peer review")


async def walk_skeleton(
    settings: Settings,
    *,
    survivor_name: str,
    document: bytes,
    organisation: str = "demo-solicitors",
    report: Callable[[str], None] = lambda _line: None,
) -> DemoResult:
    """Drive one referral through all three services; raise ``StepFailed`` on any failure."""
    actors = Actors(settings, organisation=organisation)
    correlation_id = uuid.uuid4()
    async with httpx.AsyncClient(timeout=30.0) as http:
        intake, review, reporting = settings.intake_url, settings.review_url, settings.reporting_url

        form = sample_referral(survivor_name)
        later = {"consent": form.pop("consent"), "questions": form.pop("questions")}
        created = _expect(
            await http.post(
                f"{intake}/referrals",
                json=form,
                headers={**actors.partner, "Idempotency-Key": f"demo-create-{correlation_id}"},
            ),
            201,
            "partner starts a draft",
        )
        case_id = uuid.UUID(created["case_id"])
        report(
            f"partner: referral {created['reference']} drafted (case {case_id}); "
            f"still missing: {', '.join(m.split(':')[0] for m in created['missing'])}"
        )
        completed = _expect(
            await http.patch(f"{intake}/referrals/{case_id}", json=later, headers=actors.partner),
            200,
            "partner completes the draft",
        )
        report(f"partner: draft completed; missing now: {completed['missing'] or 'nothing'}")

        receipt = _expect(
            await http.post(
                f"{intake}/referrals/{case_id}/documents",
                params={"kind": "home_office_decision"},
                content=document,
                headers={**actors.partner, "Idempotency-Key": f"demo-upload-{correlation_id}"},
            ),
            201,
            "partner uploads a document",
        )
        report(f"partner: document received, sha256 {receipt['sha256']}")

        submitted = _expect(
            await http.post(
                f"{intake}/referrals/{case_id}/submit",
                headers={
                    **actors.partner,
                    "X-Correlation-ID": str(correlation_id),
                    "Idempotency-Key": f"demo-submit-{correlation_id}",
                },
            ),
            200,
            "partner submits",
        )
        report(f"partner: submitted, status {submitted['status']}")

        await _triage_and_assign(http, review, actors, case_id, report)

        await _assess(http, review, actors, case_id, report)

        async def in_legal_review() -> bool:
            response = await http.get(f"{reporting}/legal-reviews/{case_id}", headers=actors.legal)
            return response.status_code == 200

        await _until("the case reaches legal review", in_legal_review)
        signed = _expect(
            await http.post(
                f"{reporting}/legal-reviews/{case_id}/sign-off",
                json={"statement": "Reviewed for legal sufficiency and approved for issue."},
                headers=actors.legal,
            ),
            200,
            "legal signs off",
        )
        issued = signed["reports"][-1]
        report(f"legal: signed off; report v{issued['version']} issued")

        async def partner_sees_issued() -> Any:
            view = _expect(
                await http.get(f"{intake}/referrals/{case_id}", headers=actors.partner),
                200,
                "partner follows status",
            )
            return view if view["status"] == "issued" else None

        view = await _until("the partner sees the report issued", partner_sees_issued)
        report(f"partner: status {view['status']}")

        link = _expect(
            await http.get(f"{intake}/referrals/{case_id}/report", headers=actors.partner),
            200,
            "partner asks intake for a link to the report",
        )
        download = await http.get(link["url"], headers=actors.partner)
        if download.status_code != 200:
            raise StepFailed(
                f"partner downloads: HTTP {download.status_code}: {download.text[:300]}"
            )
        pdf = download.content
        if hashlib.sha256(pdf).hexdigest() != view["report"]["sha256"]:
            raise StepFailed("partner downloads: the PDF does not match the issued SHA-256")
        report(f"partner: downloaded {len(pdf)} bytes, SHA-256 verified")

        legal_view = _expect(
            await http.get(f"{reporting}/legal-reviews/{case_id}", headers=actors.legal),
            200,
            "legal reads the case",
        )
        del legal_view
        return DemoResult(
            case_id=case_id,
            reference=created["reference"],
            correlation_id=correlation_id,
            report_id=uuid.UUID(issued["report_id"]),
            report_sha256=issued["sha256"],
            report_object_key=f"cases/{case_id}/reports/v{issued['version']}-{issued['report_id']}.pdf",
            pdf=pdf,
            document_sha256=receipt["sha256"],
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
    except (StepFailed, httpx.HTTPError) as exc:
        print(f"FAILED: {exc}")
        return False
    await asyncio.to_thread(out.write_bytes, result.pdf)
    print(f"report written to {out}")
    print(f"object key: {settings.bucket_name('reports')}/{result.report_object_key}")
    print(f"sha256: {result.report_sha256}")
    return True
