"""What a walk fills in: a referral as a solicitor completes it, a triage panel's acceptance,
a clinician's findings and roster entry, and small files standing in for evidence."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from PIL import Image

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


def roster_entry(
    name: str,
    *,
    capacity: int = 20,
    languages: tuple[str, ...] = ("en", "ti"),
    senior: bool = False,
) -> dict[str, Any]:
    """A clinician as the coordinator keeps them on the roster (a senior clinician peer
    reviews, and is given no languages to be matched on)."""
    entry: dict[str, Any] = {
        "name": name,
        "disciplines": ["physical", "psychological"],
        "capacity": capacity,
    }
    if senior:
        entry["senior"] = True
    else:
        entry["languages"] = list(languages)
    return entry
