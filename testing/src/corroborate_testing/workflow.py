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
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import httpx

from corroborate.auth import Role
from corroborate.settings import Settings
from corroborate.walk.calls import ABSENT, NOT_THERE, Bearer, Done, Headers, Pace, WalkFailed
from corroborate.walk.samples import minimal_pdf, roster_entry, sample_findings, sample_referral
from corroborate.walk.steps import People, ReferralWalk, Services, put_on_roster

REPLAYED_HEADER = "Idempotent-Replayed"


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
    """Calls to one service (``base_url``) that wait out outages, within ``patience`` seconds
    per call; an ``Endpoint`` for a walk's steps."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        patience: float,
        figures: CallFigures,
        base_url: str = "",
    ) -> None:
        self._http = http
        self._patience = patience
        self._base = base_url
        self.figures = figures

    def at(self, base_url: str) -> PatientHttp:
        """The same caller, client and figures, for another service."""
        return PatientHttp(
            self._http, patience=self._patience, figures=self.figures, base_url=base_url
        )

    async def read(self, path: str, *, headers: Headers, absent: frozenset[int] = NOT_THERE) -> Any:
        """GET JSON; ``ABSENT`` for a status in ``absent`` (not there yet)."""
        response = await self._get(f"GET {self._base + path}", self._base + path, headers, absent)
        return ABSENT if response is None else response.json()

    async def fetch(self, step: str, url: str, *, headers: Headers) -> bytes:
        """GET the bytes at ``url``, retried like ``read``."""
        response = await self._get(step, url, headers, frozenset())
        assert response is not None  # nothing counts as absent
        return response.content

    async def _get(
        self, what: str, url: str, headers: Headers, absent: frozenset[int]
    ) -> httpx.Response | None:
        """The 200 answer, or None for a status in ``absent``; outages waited out."""
        deadline = asyncio.get_running_loop().time() + self._patience
        delay = 0.2
        while True:
            try:
                response = await self._http.get(url, headers=headers)
            except httpx.TransportError as exc:
                self.figures.saw(type(exc).__name__)
            else:
                if response.status_code == 200:
                    return response
                if response.status_code in absent:
                    return None
                if response.status_code < 500:
                    raise WalkFailed(f"{what}: HTTP {response.status_code}: {response.text}")
                self.figures.saw(f"HTTP {response.status_code}")
            delay = await self._pause(deadline, delay, what)

    async def change(
        self,
        step: str,
        method: str,
        path: str,
        *,
        headers: Headers,
        expect: Collection[int],
        done: Done | None = None,
        **request: Any,
    ) -> Any:
        """Send a change; on an unknown outcome, ask ``done`` (the effect if it happened, else
        None) before sending it again. Without ``done`` the request must be idempotent."""
        url = self._base + path
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
                        f"{step} ({method} {url}): HTTP {response.status_code}: "
                        f"{response.text[:400]}"
                    )
                self.figures.saw(f"HTTP {response.status_code}")
                self.figures.unknown_outcomes += 1
                unknown = True
            delay = await self._pause(deadline, delay, f"{step} ({method} {url})")

    async def _pause(self, deadline: float, delay: float, what: str) -> float:
        if asyncio.get_running_loop().time() > deadline:
            raise WalkFailed(f"{what}: still failing after {self._patience:.0f}s")
        self.figures.retries += 1
        await asyncio.sleep(delay * random.uniform(0.5, 1.5))  # noqa: S311 - jitter, not secrets
        return min(delay * 2, 3.0)


@dataclass(frozen=True)
class Cast:
    """Everyone who acts, with their tokens: partners of several organisations, a coordinator,
    clinicians, senior clinicians and a legal reviewer."""

    partners: dict[str, Headers]
    coordinator: Headers
    admin: Headers
    clinicians: dict[str, Headers]
    seniors: dict[str, Headers]
    legal: Headers

    @classmethod
    def signed(
        cls, settings: Settings, *, organisations: int, clinicians: int, seniors: int
    ) -> Cast:
        bearer = Bearer(settings)
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

    def people(self, organisation: str, senior: str) -> People:
        """Who walks one referral of ``organisation``, peer reviewed by ``senior``."""
        return People(
            partner=self.partners[organisation],
            coordinator=self.coordinator,
            clinicians=self.clinicians,
            senior=self.seniors[senior],
            legal=self.legal,
        )


@dataclass
class Walked:
    """One referral as its walk left it."""

    index: int
    organisation: str
    walk: ReferralWalk | None = None

    @property
    def case_id(self) -> uuid.UUID | None:
        return None if self.walk is None else self.walk.case_id

    @property
    def reference(self) -> str | None:
        return None if self.walk is None else self.walk.reference

    @property
    def steps(self) -> list[str]:
        return [] if self.walk is None else self.walk.steps


def services_of(http: PatientHttp, settings: Settings) -> Services:
    """The three services, each called by ``http``'s patient caller."""
    return Services(
        intake=http.at(settings.intake_url),
        review=http.at(settings.review_url),
        reporting=http.at(settings.reporting_url),
    )


async def prepare_roster(services: Services, cast: Cast) -> None:
    """The coordinator puts every clinician and senior clinician on the roster."""
    for clinician in cast.clinicians:
        await put_on_roster(
            services.review, cast.coordinator, clinician, roster_entry(clinician, capacity=100)
        )
    for senior in cast.seniors:
        await put_on_roster(
            services.review,
            cast.coordinator,
            senior,
            roster_entry(senior, capacity=100, senior=True),
        )


async def walk_referral(
    services: Services,
    cast: Cast,
    walked: Walked,
    *,
    run: str,
    patience: float,
    issued: Callable[[str], Awaitable[None]],
) -> None:
    """From the partner's draft to the issued report the partner is told of.

    ``issued(reference)`` returns once the partner's webhook has heard that the report was
    issued (the partner follows by webhook rather than polling the referral). No photograph
    is taken: its upload has no check that it happened, so it could not be safely repeated.
    """
    senior = sorted(cast.seniors)[walked.index % len(cast.seniors)]
    walk = walked.walk = ReferralWalk(
        services,
        cast.people(walked.organisation, senior),
        key=f"{run}-{walked.index}",
        pace=Pace(within=patience, every=1.5, jitter=0.3),
    )
    await walk.draft(sample_referral(f"Faults Person {walked.index}"))
    await walk.upload(minimal_pdf(f"Home Office decision {walked.index}"))
    await walk.submit()
    await walk.reaches_triage()
    await walk.accept()
    await walk.assign(sorted(cast.clinicians)[walked.index % len(cast.clinicians)])
    await walk.assess(sample_findings())
    await walk.approve()
    await walk.reaches_legal_review()
    await walk.sign_off()
    await issued(str(walk.reference))
    walk.steps.append("partner told: issued")
