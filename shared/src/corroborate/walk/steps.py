"""One referral's walk, step by step, each step taken by the person whose work it is.

A step sends one change (or waits for one thing to appear), records its name in ``steps`` once
done, and returns what the service answered, so a caller can report, time or check it. Every
change that has no Idempotency-Key carries a ``done`` check read from the case, which a
patient caller asks before sending a change again whose outcome it does not know.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from corroborate.walk.calls import ABSENT, Endpoint, Headers, Pace, WalkFailed, until
from corroborate.walk.samples import ACCEPT, sample_findings

SIGN_OFF = "Reviewed for legal sufficiency and approved for issue."


@dataclass(frozen=True)
class Services:
    intake: Endpoint
    review: Endpoint
    reporting: Endpoint


@dataclass(frozen=True)
class People:
    """Who takes the steps of one referral: its partner, the coordinator, the clinicians it may
    be assigned to (by id), the senior clinician who peer reviews it and the legal reviewer."""

    partner: Headers
    coordinator: Headers
    clinicians: Mapping[str, Headers]
    senior: Headers
    legal: Headers


async def put_on_roster(
    review: Endpoint, coordinator: Headers, clinician_id: str, entry: dict[str, Any]
) -> dict[str, Any]:
    """The coordinator adds a clinician to the roster, or updates their entry."""
    answer: dict[str, Any] = await review.change(
        f"coordinator puts {clinician_id} on the roster",
        "PUT",
        f"/roster/{clinician_id}",
        headers=coordinator,
        expect={200},
        json=entry,
    )
    return answer


@dataclass
class ReferralWalk:
    """One referral, from the partner's draft to the report the partner downloads."""

    services: Services
    people: People
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Makes this walk's Idempotency-Keys its own."""
    pace: Pace = field(default_factory=Pace)
    case_id: uuid.UUID | None = None
    reference: str | None = None
    clinician: str | None = None
    steps: list[str] = field(default_factory=list)
    _versions: int = 0
    _appointments: int = 0

    # --- the partner, at intake ---------------------------------------------------------------

    async def draft(self, form: dict[str, Any]) -> dict[str, Any]:
        """The partner opens a draft with ``form``; the answer lists what is still missing."""
        created: dict[str, Any] = await self.services.intake.change(
            "partner starts a draft",
            "POST",
            "/referrals",
            headers=self._idempotent(self.people.partner, "create"),
            expect={200, 201},
            json=form,
        )
        self.case_id, self.reference = uuid.UUID(created["case_id"]), created["reference"]
        return self._took("drafted", created)

    async def complete(self, changes: dict[str, Any]) -> dict[str, Any]:
        """The partner fills in more of the draft (the same changes twice change nothing)."""
        return self._took(
            "completed",
            await self.services.intake.change(
                "partner completes the draft",
                "PATCH",
                self._referral,
                headers=self.people.partner,
                expect={200},
                json=changes,
            ),
        )

    async def upload(self, content: bytes, *, kind: str = "home_office_decision") -> dict[str, Any]:
        """The partner uploads a document; the answer is its receipt (digest, time received)."""
        return self._took(
            "uploaded",
            await self.services.intake.change(
                "partner uploads a document",
                "POST",
                f"{self._referral}/documents",
                headers=self._idempotent(self.people.partner, "upload"),
                expect={200, 201},
                params={"kind": kind},
                content=content,
            ),
        )

    async def submit(self, *, correlation_id: uuid.UUID | None = None) -> dict[str, Any]:
        headers = self._idempotent(self.people.partner, "submit")
        if correlation_id is not None:
            headers["X-Correlation-ID"] = str(correlation_id)
        return self._took(
            "submitted",
            await self.services.intake.change(
                "partner submits",
                "POST",
                f"{self._referral}/submit",
                headers=headers,
                expect={200},
            ),
        )

    async def partner_sees_issued(self) -> dict[str, Any]:
        """The partner follows the referral until it says the report is issued."""

        async def issued() -> dict[str, Any] | None:
            view = await self.services.intake.read(self._referral, headers=self.people.partner)
            return view if view is not ABSENT and view["status"] == "issued" else None

        return self._took(
            "partner sees issued", await until("the partner sees it issued", issued, self.pace)
        )

    async def download_report(self) -> bytes:
        """The partner asks intake for a link to the issued report and downloads it."""
        link = await self.services.intake.read(
            f"{self._referral}/report", headers=self.people.partner
        )
        if link is ABSENT:
            raise WalkFailed("partner asks for the report: intake has none for the referral")
        pdf = await self.services.intake.fetch(
            "partner downloads the report", link["url"], headers=self.people.partner
        )
        self.steps.append("downloaded")
        return pdf

    # --- the coordinator, at review -----------------------------------------------------------

    async def reaches_triage(self) -> dict[str, Any]:
        """Wait until the coordinator finds the referral awaiting triage."""
        return self._took(
            "in triage",
            await until(
                "the referral reaches triage",
                lambda: self._case_where(self.people.coordinator, "awaiting_triage"),
                self.pace,
            ),
        )

    async def accept(self, decision: dict[str, Any] = ACCEPT) -> dict[str, Any]:
        coordinator = self.people.coordinator
        return self._took(
            "accepted",
            await self.services.review.change(
                "coordinator accepts",
                "POST",
                f"{self._case}/decision",
                headers=coordinator,
                expect={200},
                json=decision,
                done=lambda: self._case_if(coordinator, lambda c: c["status"] != "awaiting_triage"),
            ),
        )

    async def suggestions(self) -> list[dict[str, Any]]:
        """The clinicians who fit the case, best first, each with the reasons it ranks."""
        found: list[dict[str, Any]] = await self.services.review.read(
            f"{self._case}/suggestions", headers=self.people.coordinator, absent=frozenset()
        )
        return found

    async def assign(self, clinician_id: str) -> dict[str, Any]:
        coordinator = self.people.coordinator
        assigned = await self.services.review.change(
            "coordinator assigns",
            "POST",
            f"{self._case}/assignment",
            headers=coordinator,
            expect={200},
            json={"clinician_id": clinician_id},
            done=lambda: self._case_if(coordinator, lambda c: c["clinician_id"] == clinician_id),
        )
        self.clinician = clinician_id
        return self._took("assigned", assigned)

    async def book_appointment(self, *, interpreter_language: str | None = "ti") -> str:
        """The coordinator books an examination for today; the answer is its id."""
        coordinator, before = self.people.coordinator, self._appointments
        booking: dict[str, Any] = {"on": datetime.now(UTC).date().isoformat(), "remote": False}
        if interpreter_language is not None:
            booking["interpreter_language"] = interpreter_language
        booked = await self.services.review.change(
            "coordinator books an appointment",
            "POST",
            f"{self._case}/appointments",
            headers=coordinator,
            expect={201},
            json=booking,
            done=lambda: self._case_if(coordinator, lambda c: len(c["appointments"]) > before),
        )
        self._appointments = len(booked["appointments"])
        self.steps.append("appointment booked")
        return str(booked["appointments"][-1]["appointment_id"])

    # --- the clinician and the senior clinician -----------------------------------------------

    async def record_consent(self, appointment: str, *, photography: bool) -> dict[str, Any]:
        """Consent to examination and, separately, to photography (the same answer twice
        records the same consent)."""
        return self._took(
            "consent recorded",
            await self.services.review.change(
                "clinician records consent",
                "PUT",
                f"{self._case}/appointments/{appointment}/consent",
                headers=self._doctor,
                expect={200},
                json={"examination": True, "photography": photography},
            ),
        )

    async def attach_photograph(self, appointment: str, content: bytes) -> dict[str, Any]:
        """A clinical photograph taken at ``appointment``; the answer gives its id and digest.
        Sent once: a patient caller must not repeat it, as there is no check it was taken."""
        return self._took(
            "photographed",
            await self.services.review.change(
                "clinician attaches a photograph",
                "POST",
                f"{self._case}/photographs",
                headers=self._doctor,
                expect={201},
                params={"appointment_id": appointment},
                content=content,
            ),
        )

    async def record_findings(self, findings: dict[str, Any]) -> dict[str, Any]:
        """The clinician saves the draft of findings (each save is a new version)."""
        doctor, before = self._doctor, self._versions
        saved: dict[str, Any] = await self.services.review.change(
            "clinician records findings",
            "PUT",
            f"{self._case}/findings",
            headers=doctor,
            expect={200},
            json=findings,
            done=lambda: self._case_if(doctor, lambda c: len(c["versions"]) > before),
        )
        self._versions = len(saved["versions"])
        return self._took("findings recorded", saved)

    async def submit_draft(self) -> dict[str, Any]:
        doctor = self._doctor
        return self._took(
            "draft submitted",
            await self.services.review.change(
                "clinician submits for peer review",
                "POST",
                f"{self._case}/findings/submit",
                headers=doctor,
                expect={200},
                done=lambda: self._case_if(doctor, lambda c: c["status"] != "assigned"),
            ),
        )

    async def assess(
        self, findings: dict[str, Any] | None = None, *, photograph: bytes | None = None
    ) -> dict[str, Any]:
        """An examination booked and consented to, a photograph of the first lesion if one is
        given, the findings recorded and the draft sent to peer review."""
        findings = dict(findings or sample_findings())
        appointment = await self.book_appointment()
        await self.record_consent(appointment, photography=photograph is not None)
        if photograph is not None:
            photo = await self.attach_photograph(appointment, photograph)
            findings["photographs"] = [
                {
                    "photograph_id": photo["photograph_id"],
                    "sha256": photo["sha256"],
                    "lesion": 1,
                    "caption": "Upper back, with scale",
                }
            ]
        await self.record_findings(findings)
        return await self.submit_draft()

    async def approve(self, comments: str = "Sound and complete.") -> dict[str, Any]:
        senior = self.people.senior
        return self._took(
            "approved",
            await self.services.review.change(
                "senior clinician approves",
                "POST",
                f"{self._case}/peer-review",
                headers=senior,
                expect={200},
                json={"verdict": "approve", "comments": comments},
                done=lambda: self._case_if(senior, lambda c: c["status"] == "review_completed"),
            ),
        )

    # --- the legal reviewer, at reporting -----------------------------------------------------

    async def reaches_legal_review(self, *, status: str | None = None) -> dict[str, Any]:
        """Wait until the legal reviewer can open the case (in ``status``, if given)."""

        async def there() -> dict[str, Any] | None:
            found = await self._legal_review()
            return found if found is not None and status in (None, found["status"]) else None

        return self._took(
            "in legal review", await until("the case reaches legal review", there, self.pace)
        )

    async def sign_off(self, statement: str = SIGN_OFF) -> dict[str, Any]:
        """Legal signs off and the report is issued; the answer lists the reports issued."""

        async def issued() -> dict[str, Any] | None:
            # A sign-off interrupted before its report was issued is completed by signing
            # again, so only an issued report counts as done.
            found = await self._legal_review()
            return found if found is not None and found["reports"] else None

        return self._took(
            "signed off",
            await self.services.reporting.change(
                "legal signs off",
                "POST",
                f"/legal-reviews/{self._case_uuid}/sign-off",
                headers=self.people.legal,
                expect={200},
                json={"statement": statement},
                done=issued,
            ),
        )

    # --- reading the case back ----------------------------------------------------------------

    async def case(self, headers: Headers) -> dict[str, Any] | None:
        """The case at review as ``headers``' holder sees it; None while review has none."""
        found = await self.services.review.read(self._case, headers=headers)
        return None if found is ABSENT else dict(found)

    async def _case_where(self, headers: Headers, status: str) -> dict[str, Any] | None:
        return await self._case_if(headers, lambda c: c["status"] == status)

    async def _case_if(
        self, headers: Headers, test: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any] | None:
        found = await self.case(headers)
        return found if found is not None and test(found) else None

    async def _legal_review(self) -> dict[str, Any] | None:
        found = await self.services.reporting.read(
            f"/legal-reviews/{self._case_uuid}", headers=self.people.legal
        )
        return None if found is ABSENT else dict(found)

    def _took(self, step: str, answer: Any) -> dict[str, Any]:
        if not isinstance(answer, dict):
            raise WalkFailed(f"{step}: the answer is not a JSON object: {answer!r:.200}")
        self.steps.append(step)
        return answer

    def _idempotent(self, headers: Headers, step: str) -> Headers:
        return {**headers, "Idempotency-Key": f"{self.key}-{step}"}

    @property
    def _case_uuid(self) -> uuid.UUID:
        if self.case_id is None:
            raise WalkFailed("no referral drafted yet")
        return self.case_id

    @property
    def _referral(self) -> str:
        return f"/referrals/{self._case_uuid}"

    @property
    def _case(self) -> str:
        return f"/cases/{self._case_uuid}"

    @property
    def _doctor(self) -> Headers:
        if self.clinician is None:
            raise WalkFailed("no clinician assigned yet")
        return dict(self.people.clinicians[self.clinician])
