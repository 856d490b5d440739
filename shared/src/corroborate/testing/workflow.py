"""Scripted people walking referrals through the three services over HTTP, through outages.

Every actor retries a call that failed because a service, the broker or the database was away
(connection refused or dropped, 5xx). A call whose outcome is unknown (the connection dropped
after the request was sent, or a 5xx) is not simply sent again: with an Idempotency-Key the
service answers as it did the first time; without one, the actor first reads the case, as a
person reloading the page would, and repeats the request only if it had no effect. A request
that then meets a refusal (a 409, say) fails the walk: duplicates are exposed, never hidden.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from corroborate.auth import Role, issue_token
from corroborate.cli.demo import ACCEPT, minimal_pdf, sample_findings, sample_referral
from corroborate.settings import Settings

REPLAYED_HEADER = "Idempotent-Replayed"
ABSENT = object()


class WalkFailed(Exception):
    """A step got an answer it cannot continue from, or nothing within its time."""


@dataclass
class CallFigures:
    """What the actors met: retried calls, outcomes checked by reading, replayed answers."""

    retries: int = 0
    unknown_outcomes: int = 0
    found_done: int = 0
    replayed: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def saw(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


class PatientHttp:
    """HTTP calls that wait out outages (within ``patience`` seconds per call)."""

    def __init__(self, http: httpx.AsyncClient, *, patience: float, figures: CallFigures) -> None:
        self._http = http
        self._patience = patience
        self.figures = figures

    async def read(
        self, url: str, *, headers: dict[str, str], absent: frozenset[int] = frozenset({404})
    ) -> Any:
        """GET JSON; ``ABSENT`` for a status in ``absent`` (not there yet)."""
        deadline = asyncio.get_running_loop().time() + self._patience
        delay = 0.2
        while True:
            try:
                response = await self._http.get(url, headers=headers)
            except httpx.TransportError as exc:
                self.figures.saw(type(exc).__name__)
            else:
                if response.status_code == 200:
                    return response.json()
                if response.status_code in absent:
                    return ABSENT
                if response.status_code < 500:
                    raise WalkFailed(f"GET {url}: HTTP {response.status_code}: {response.text}")
                self.figures.saw(f"HTTP {response.status_code}")
            delay = await self._pause(deadline, delay, f"GET {url}")

    async def change(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        expect: set[int],
        done: Callable[[], Awaitable[Any]] | None = None,
        **request: Any,
    ) -> Any:
        """Send a change; on an unknown outcome, ask ``done`` (the effect if it happened, else
        None) before sending it again. Without ``done`` the request must be idempotent."""
        deadline = asyncio.get_running_loop().time() + self._patience
        delay = 0.2
        unknown = False
        while True:
            if unknown and done is not None:
                effect = await done()
                if effect is not None:
                    self.figures.found_done += 1
                    return effect
            try:
                response = await self._http.request(method, url, headers=headers, **request)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                self.figures.saw(type(exc).__name__)  # never reached the service
            except httpx.TransportError as exc:
                self.figures.saw(type(exc).__name__)
                self.figures.unknown_outcomes += 1
                unknown = True
            else:
                if response.status_code in expect:
                    if response.headers.get(REPLAYED_HEADER) == "true":
                        self.figures.replayed += 1
                    return response.json()
                if response.status_code < 500:
                    raise WalkFailed(
                        f"{method} {url}: HTTP {response.status_code}: {response.text[:400]}"
                    )
                self.figures.saw(f"HTTP {response.status_code}")
                self.figures.unknown_outcomes += 1
                unknown = True
            delay = await self._pause(deadline, delay, f"{method} {url}")

    async def _pause(self, deadline: float, delay: float, what: str) -> float:
        if asyncio.get_running_loop().time() > deadline:
            raise WalkFailed(f"{what}: still failing after {self._patience:.0f}s")
        self.figures.retries += 1
        await asyncio.sleep(delay * random.uniform(0.5, 1.5))  # noqa: S311 - jitter, not secrets
        return min(delay * 2, 3.0)

    async def until(
        self, what: str, probe: Callable[[], Awaitable[Any]], *, every: float = 1.5
    ) -> Any:
        """Poll ``probe`` until it returns something other than None."""
        deadline = asyncio.get_running_loop().time() + self._patience
        while True:
            result = await probe()
            if result is not None:
                return result
            if asyncio.get_running_loop().time() > deadline:
                raise WalkFailed(f"{what}: not seen within {self._patience:.0f}s")
            await asyncio.sleep(every * random.uniform(0.7, 1.3))  # noqa: S311


@dataclass(frozen=True)
class Cast:
    """Everyone who acts, with their tokens: partners of several organisations, a coordinator,
    clinicians, senior clinicians and a legal reviewer."""

    partners: dict[str, dict[str, str]]
    coordinator: dict[str, str]
    admin: dict[str, str]
    clinicians: dict[str, dict[str, str]]
    seniors: dict[str, dict[str, str]]
    legal: dict[str, str]

    @classmethod
    def signed(
        cls, settings: Settings, *, organisations: int, clinicians: int, seniors: int
    ) -> Cast:
        if settings.auth_private_key_file is None:
            raise WalkFailed("CORROBORATE_AUTH_PRIVATE_KEY_FILE is not set")
        key = settings.auth_private_key_file.read_text(encoding="utf-8")

        def bearer(
            role: Role, subject: str, *, organisation: str | None = None, name: str | None = None
        ) -> dict[str, str]:
            token = issue_token(
                private_key_pem=key,
                issuer=settings.auth_issuer,
                subject=subject,
                role=role,
                organisation=organisation,
                name=name,
                ttl_seconds=3600,
            )
            return {"Authorization": f"Bearer {token}"}

        return cls(
            partners={
                f"faults-firm-{n}": bearer(
                    Role.PARTNER, f"solicitor-{n}", organisation=f"faults-firm-{n}"
                )
                for n in range(organisations)
            },
            coordinator=bearer(Role.COORDINATOR, "coordinator-1"),
            admin=bearer(Role.ADMIN, "admin-1"),
            clinicians={
                f"dr-faults-{n}": bearer(Role.CLINICIAN, f"dr-faults-{n}", name=f"Dr Faults {n}")
                for n in range(clinicians)
            },
            seniors={
                f"dr-senior-{n}": bearer(
                    Role.SENIOR_CLINICIAN, f"dr-senior-{n}", name=f"Dr Senior {n}"
                )
                for n in range(seniors)
            },
            legal=bearer(Role.LEGAL, "legal-1"),
        )


@dataclass(frozen=True)
class Urls:
    intake: str
    review: str
    reporting: str


@dataclass
class Walked:
    """One referral as its walk left it."""

    index: int
    organisation: str
    case_id: uuid.UUID | None = None
    reference: str | None = None
    clinician: str | None = None
    steps: list[str] = field(default_factory=list)


async def prepare_roster(http: PatientHttp, urls: Urls, cast: Cast) -> None:
    """The coordinator puts every clinician and senior clinician on the roster."""
    for clinician in cast.clinicians:
        await http.change(
            "PUT",
            f"{urls.review}/roster/{clinician}",
            headers=cast.coordinator,
            expect={200},
            json={
                "name": clinician,
                "disciplines": ["physical", "psychological"],
                "languages": ["en", "ti"],
                "capacity": 100,
            },
        )
    for senior in cast.seniors:
        await http.change(
            "PUT",
            f"{urls.review}/roster/{senior}",
            headers=cast.coordinator,
            expect={200},
            json={
                "name": senior,
                "disciplines": ["physical", "psychological"],
                "capacity": 100,
                "senior": True,
            },
        )


async def walk_referral(
    http: PatientHttp,
    urls: Urls,
    cast: Cast,
    walked: Walked,
    *,
    run: str,
    issued: Callable[[str], Awaitable[None]],
) -> None:
    """From the partner's draft to the issued report the partner is told of.

    ``issued(reference)`` returns once the partner's webhook has heard that the report was
    issued (the partner follows by webhook rather than polling the referral).
    """
    partner = cast.partners[walked.organisation]
    key = f"{run}-{walked.index}"

    created = await http.change(
        "POST",
        f"{urls.intake}/referrals",
        headers={**partner, "Idempotency-Key": f"create-{key}"},
        expect={200, 201},
        json=sample_referral(f"Faults Person {walked.index}"),
    )
    case_id = uuid.UUID(created["case_id"])
    walked.case_id, walked.reference = case_id, created["reference"]
    walked.steps.append("created")
    await http.change(
        "POST",
        f"{urls.intake}/referrals/{case_id}/documents",
        headers={**partner, "Idempotency-Key": f"upload-{key}"},
        expect={200, 201},
        params={"kind": "home_office_decision"},
        content=minimal_pdf(f"Home Office decision {walked.index}"),
    )
    walked.steps.append("uploaded")
    await http.change(
        "POST",
        f"{urls.intake}/referrals/{case_id}/submit",
        headers={**partner, "Idempotency-Key": f"submit-{key}"},
        expect={200},
    )
    walked.steps.append("submitted")

    case_url = f"{urls.review}/cases/{case_id}"

    async def case(headers: dict[str, str]) -> dict[str, Any] | None:
        found = await http.read(case_url, headers=headers)
        return None if found is ABSENT else dict(found)

    async def case_where(
        headers: dict[str, str], test: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any] | None:
        found = await case(headers)
        return found if found is not None and test(found) else None

    coordinator = cast.coordinator
    await http.until(
        "the referral reaches triage",
        lambda: case_where(coordinator, lambda c: c["status"] == "awaiting_triage"),
    )
    walked.steps.append("in triage")
    await http.change(
        "POST",
        f"{case_url}/decision",
        headers=coordinator,
        expect={200},
        json=ACCEPT,
        done=lambda: case_where(coordinator, lambda c: c["status"] != "awaiting_triage"),
    )
    walked.steps.append("accepted")

    clinician = sorted(cast.clinicians)[walked.index % len(cast.clinicians)]
    walked.clinician = clinician
    await http.change(
        "POST",
        f"{case_url}/assignment",
        headers=coordinator,
        expect={200},
        json={"clinician_id": clinician},
        done=lambda: case_where(coordinator, lambda c: c["clinician_id"] == clinician),
    )
    walked.steps.append("assigned")
    booked = await http.change(
        "POST",
        f"{case_url}/appointments",
        headers=coordinator,
        expect={201},
        json={
            "on": datetime.now(UTC).date().isoformat(),
            "remote": False,
            "interpreter_language": "ti",
        },
        done=lambda: case_where(coordinator, lambda c: bool(c["appointments"])),
    )
    appointment = booked["appointments"][0]["appointment_id"]
    walked.steps.append("appointment booked")

    doctor = cast.clinicians[clinician]
    await http.change(
        "PUT",
        f"{case_url}/appointments/{appointment}/consent",
        headers=doctor,
        expect={200},
        json={"examination": True, "photography": False},
    )
    await http.change(
        "PUT",
        f"{case_url}/findings",
        headers=doctor,
        expect={200},
        json=sample_findings(),
        done=lambda: case_where(doctor, lambda c: bool(c["versions"])),
    )
    await http.change(
        "POST",
        f"{case_url}/findings/submit",
        headers=doctor,
        expect={200},
        done=lambda: case_where(doctor, lambda c: c["status"] != "assigned"),
    )
    walked.steps.append("draft submitted")

    senior = cast.seniors[sorted(cast.seniors)[walked.index % len(cast.seniors)]]
    await http.change(
        "POST",
        f"{case_url}/peer-review",
        headers=senior,
        expect={200},
        json={"verdict": "approve", "comments": "Sound and complete."},
        done=lambda: case_where(senior, lambda c: c["status"] == "review_completed"),
    )
    walked.steps.append("approved")

    legal_url = f"{urls.reporting}/legal-reviews/{case_id}"

    async def legal_review() -> dict[str, Any] | None:
        found = await http.read(legal_url, headers=cast.legal)
        return None if found is ABSENT else dict(found)

    await http.until("the case reaches legal review", legal_review)
    walked.steps.append("in legal review")

    async def report_issued() -> dict[str, Any] | None:
        found = await legal_review()
        return found if found is not None and found["reports"] else None

    # A sign-off interrupted before its report was issued is completed by signing again,
    # so only an issued report counts as done.
    await http.change(
        "POST",
        f"{legal_url}/sign-off",
        headers=cast.legal,
        expect={200},
        json={"statement": "Reviewed for legal sufficiency and approved for issue."},
        done=report_issued,
    )
    walked.steps.append("signed off")

    await issued(str(walked.reference))
    walked.steps.append("partner told: issued")
