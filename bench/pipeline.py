"""The pipeline: referrals driven from a partner's draft to the report issued, over HTTP.

Scripted actors (partner, coordinator, clinicians, senior clinician, legal reviewer) walk each
referral through the steps of ``corroborate.walk`` (as the demo does), a bounded number of
referrals in flight at once. Every referral's timeline is marked at the boundaries of its hops,
and a spy queue bound to the namespace's exchange records when each case event reached the
broker, so each hop can be split into the HTTP call, the outbox relay and the consumer.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.actors import CLINICIANS, SENIOR, Clock, EventSpy, Tokens, Watch
from corroborate.settings import Settings
from corroborate.walk.calls import DirectHttp, WalkFailed
from corroborate.walk.samples import (
    minimal_pdf,
    roster_entry,
    sample_photograph,
    sample_referral,
)
from corroborate.walk.steps import ReferralWalk, Services, put_on_roster

STALL_SECONDS = 90.0

# The points each referral's timeline is marked at, in the order they are reached.
MARKS = (
    "start",  # the partner opens a draft
    "drafted",  # draft completed and a document uploaded
    "submit",  # the partner submits (request sent)
    "submitted",  # ... and intake answered
    "triage_visible",  # the coordinator sees it in the triage queue
    "assigned",  # accepted with the eligibility checklist, a clinician suggested and assigned
    "assessed",  # appointment, consents, photograph, findings, peer review approved
    "legal_visible",  # legal sees it in the legal review queue
    "sign_off",  # legal signs off (request sent)
    "issued",  # ... and reporting answered: the report is rendered, stored, locked, issued
    "partner_issued",  # the partner sees 'issued' at intake
)


@dataclass(frozen=True)
class Hop:
    """A stretch of the pipeline between two marks, and the case events it writes per referral
    (each saved in an aggregate's outbox, then published). A hop that writes no event is bound
    by its database writes instead."""

    key: str
    title: str
    start: str
    end: str
    event_types: tuple[str, ...] = ()
    writes: int = 0

    @property
    def events(self) -> int:
        return len(self.event_types)


HOPS = (
    Hop("draft", "draft+upload (intake)", "start", "drafted", writes=3),
    Hop(
        "submit_to_triage",
        "submit -> in triage (intake->review)",
        "submit",
        "triage_visible",
        ("referral.submitted", "referral.acknowledged"),
    ),
    Hop(
        "triage_to_assigned",
        "accept+assign (review)",
        "triage_visible",
        "assigned",
        ("referral.accepted", "case.assigned"),
    ),
    Hop(
        "assessment_to_legal",
        "assessment -> legal queue (review->reporting)",
        "assigned",
        "legal_visible",
        ("appointment.booked", "review.completed"),
    ),
    Hop(
        "signoff_to_partner",
        "sign-off -> partner sees issued (reporting->intake)",
        "sign_off",
        "partner_issued",
        ("report.issued",),
    ),
)


@dataclass
class Referral:
    index: int
    marks: dict[str, float] = field(default_factory=dict)
    case_id: str | None = None
    created_at: str = ""
    clinician: str = ""
    error: str | None = None
    walk: ReferralWalk | None = None

    @property
    def walked(self) -> ReferralWalk:
        if self.walk is None:
            raise WalkFailed(f"referral {self.index} was never drafted")
        return self.walk


@dataclass
class PipelineRun:
    referrals: list[Referral]
    events: list[tuple[str, str, float]]  # (type, case id, seconds since the run began)
    polls: Counter[str]
    seconds: float


class Driver:
    def __init__(self, settings: Settings, http: httpx.AsyncClient, tokens: Tokens) -> None:
        self._settings = settings
        self._http = http
        self._tokens = tokens
        self.clock = Clock()
        self.watches = {
            "triage queue": Watch(
                http,
                f"{settings.review_url}/triage",
                tokens.coordinator,
                self.clock,
                what="the triage queue",
            ),
            "legal queue": Watch(
                http,
                f"{settings.reporting_url}/legal-reviews",
                tokens.legal,
                self.clock,
                what="the legal review queue",
            ),
            # The partner follows the status as a list (no identity read, so nothing audited):
            # issued referrals created since the oldest one waiting.
            "partner's issued list": Watch(
                http,
                f"{settings.intake_url}/referrals",
                tokens.partner,
                self.clock,
                what="the partner's issued referrals",
                params=lambda since: {"status": "issued", "created_from": min(since), "limit": 200},
                items=lambda body: list(body["items"]),
            ),
        }
        self._run = uuid.uuid4().hex[:8]
        self._services = Services(
            intake=DirectHttp(http, settings.intake_url),
            review=DirectHttp(http, settings.review_url),
            reporting=DirectHttp(http, settings.reporting_url),
        )
        self._people = tokens.people()
        self._document = minimal_pdf("Home Office decision (benchmark)")
        self._photograph = sample_photograph()

    async def keep_roster(self) -> None:
        """The coordinator's roster, kept once: four clinicians and a senior clinician."""
        review, coordinator = self._services.review, self._tokens.coordinator
        for clinician in CLINICIANS:
            entry = roster_entry(f"Dr {clinician.title()}", capacity=100)
            await put_on_roster(review, coordinator, clinician, entry)
        entry = roster_entry("Dr Bench Senior", capacity=5, senior=True)
        await put_on_roster(review, coordinator, SENIOR, entry)

    async def walk(self, referral: Referral) -> None:
        """One referral, from the partner's draft to the partner seeing the report issued."""
        for hop in HOPS:
            await self.stage(hop.key, referral)

    async def stage(self, key: str, referral: Referral) -> None:
        """One hop of one referral (``key``: a ``Hop.key``), marking its timeline."""
        steps = {
            "draft": self._draft,
            "submit_to_triage": self._submit_to_triage,
            "triage_to_assigned": self._triage_to_assigned,
            "assessment_to_legal": self._assessment_to_legal,
            "signoff_to_partner": self._signoff_to_partner,
        }
        await steps[key](referral)

    async def _draft(self, referral: Referral) -> None:
        mark = referral.marks
        walk = referral.walk = ReferralWalk(
            self._services, self._people, key=f"bench-{self._run}-{referral.index}"
        )
        form = sample_referral(f"Bench Survivor {referral.index}")
        form["immigration"]["home_office_reference"] = f"HO-BENCH-{referral.index:06d}"
        later = {"consent": form.pop("consent"), "questions": form.pop("questions")}

        mark["start"] = self.clock.now()
        created = await walk.draft(form)
        referral.case_id, referral.created_at = created["case_id"], created["created_at"]
        await walk.complete(later)
        await walk.upload(self._document)
        mark["drafted"] = self.clock.now()

    async def _submit_to_triage(self, referral: Referral) -> None:
        mark = referral.marks
        mark["submit"] = self.clock.now()
        await referral.walked.submit()
        mark["submitted"] = self.clock.now()
        mark["triage_visible"] = await self.watches["triage queue"].seen(str(referral.case_id))

    async def _triage_to_assigned(self, referral: Referral) -> None:
        walk = referral.walked
        await walk.accept()
        suggested = await walk.suggestions()
        # next() with a default: a StopIteration raised inside a coroutine becomes a RuntimeError.
        clinician = next(
            (s["clinician_id"] for s in suggested if s["clinician_id"] in CLINICIANS), None
        )
        if clinician is None:
            raise WalkFailed(f"coordinator asks who fits: no bench clinician in {suggested}")
        await walk.assign(clinician)
        referral.clinician = clinician
        referral.marks["assigned"] = self.clock.now()

    async def _assessment_to_legal(self, referral: Referral) -> None:
        walk, mark = referral.walked, referral.marks
        await walk.assess(photograph=self._photograph)
        await walk.approve()
        mark["assessed"] = self.clock.now()
        mark["legal_visible"] = await self.watches["legal queue"].seen(str(referral.case_id))

    async def _signoff_to_partner(self, referral: Referral) -> None:
        mark = referral.marks
        mark["sign_off"] = self.clock.now()
        await referral.walked.sign_off()
        mark["issued"] = self.clock.now()
        mark["partner_issued"] = await self.watches["partner's issued list"].seen(
            str(referral.case_id), since=referral.created_at
        )


class _Guard:
    """When to stop starting referrals: after the budget, when nothing has finished for
    ``STALL_SECONDS`` (a server stopped answering), or once a quarter have failed."""

    def __init__(self, clock: Clock, *, budget_seconds: float, referrals: int) -> None:
        self.clock, self._budget, self._referrals = clock, budget_seconds, referrals
        self.failures = 0
        self.last_finished = clock.now()

    def refusal(self) -> str | None:
        now = self.clock.now()
        if now > self._budget:
            return "not started: the time budget was spent"
        if now - self.last_finished > STALL_SECONDS:
            return f"not started: nothing finished for {STALL_SECONDS:.0f} s"
        if self.failures > max(5, self._referrals // 4):
            return "not started: a quarter of the referrals had failed"
        return None


async def _drive(
    referrals: list[Referral],
    step: Callable[[Referral], Awaitable[None]],
    *,
    in_flight: int,
    guard: _Guard,
    progress: Callable[[str], None],
    label: str,
) -> None:
    """Take each referral through ``step``, ``in_flight`` at a time; a failure is recorded on
    its referral and the worker goes on."""
    pending = iter(referrals)
    done = 0
    clock = guard.clock

    async def worker() -> None:
        nonlocal done
        for referral in pending:
            refusal = guard.refusal()
            if refusal is not None:
                referral.error = refusal
                continue
            try:
                await step(referral)
            except Exception as exc:  # recorded on the referral; the worker goes on
                referral.error = f"{type(exc).__name__}: {exc}"[:300]
                guard.failures += 1
            guard.last_finished = clock.now()
            done += 1
            if done % max(4, len(referrals) // 10) == 0:
                progress(f"{label}: {done}/{len(referrals)} referrals ({guard.failures} failed)")

    await asyncio.gather(*(worker() for _ in range(in_flight)))


@asynccontextmanager
async def _actors(settings: Settings, in_flight: int) -> AsyncIterator[tuple[Driver, EventSpy]]:
    """The actors (roster kept) and the spy, for one run; the watchers stopped after it."""
    limits = httpx.Limits(max_connections=4 * in_flight, max_keepalive_connections=4 * in_flight)
    async with httpx.AsyncClient(timeout=120.0, limits=limits) as http:
        tokens = Tokens(settings, organisation="bench-solicitors")
        driver = Driver(settings, http, tokens)
        await driver.keep_roster()
        spy = EventSpy(settings, driver.clock)
        await spy.start()
        try:
            yield driver, spy
        finally:
            await spy.stop()
            for watch in driver.watches.values():
                await watch.close()


async def run_pipeline(
    settings: Settings,
    *,
    referrals: int,
    in_flight: int,
    budget_seconds: float,
    progress: Callable[[str], None] = lambda _line: None,
) -> PipelineRun:
    """Drive ``referrals`` referrals through, ``in_flight`` at a time, each from its draft to
    the partner seeing it issued. No referral is started once the guard refuses (see
    ``_Guard``); those in flight finish or time out, so a run ends in bounded time however
    slow the services are."""
    async with _actors(settings, in_flight) as (driver, spy):
        todo = [Referral(index) for index in range(referrals)]
        guard = _Guard(driver.clock, budget_seconds=budget_seconds, referrals=referrals)
        started = time.perf_counter()
        await _drive(
            todo, driver.walk, in_flight=in_flight, guard=guard, progress=progress, label="pipeline"
        )
        seconds = time.perf_counter() - started
        await asyncio.sleep(1.0)  # let the spy see the last events
        polls = Counter({name: watch.polls for name, watch in driver.watches.items()})
        return PipelineRun(todo, sorted(spy.events, key=lambda e: e[2]), polls, seconds)


@dataclass
class Stage:
    """One hop run on its own: every referral through it before the next hop starts."""

    key: str
    attempted: int
    times: list[tuple[float, float]]  # (entered, left) of each referral that completed it
    counters_before: dict[str, Any]
    counters_after: dict[str, Any]
    events: Counter[str]  # case events published while it ran and settled


@dataclass
class StagedRun:
    referrals: list[Referral]
    stages: list[Stage]
    seconds: float


async def run_staged(
    settings: Settings,
    *,
    referrals: int,
    in_flight: int,
    budget_seconds: float,
    counters: Callable[[], Awaitable[dict[str, Any]]],
    progress: Callable[[str], None] = lambda _line: None,
) -> StagedRun:
    """Each hop's own capacity: all referrals through the first hop, ``in_flight`` at a time,
    then all through the second, and so on, so no hop shares the servers with another. Around
    each hop the database's counters are read (``counters``), once its work has settled
    (nothing left to consume or relay), so each hop's writes are its own."""
    async with _actors(settings, in_flight) as (driver, spy):
        todo = [Referral(index) for index in range(referrals)]
        guard = _Guard(driver.clock, budget_seconds=budget_seconds, referrals=referrals)
        started = time.perf_counter()
        stages = []
        before = await _settled(counters)
        for hop in HOPS:
            alive = [r for r in todo if r.error is None]
            times: dict[int, tuple[float, float]] = {}

            async def step(
                referral: Referral, key: str = hop.key, times: dict[int, Any] = times
            ) -> None:
                entered = driver.clock.now()
                await driver.stage(key, referral)
                times[referral.index] = (entered, driver.clock.now())

            seen = len(spy.events)
            guard.last_finished = driver.clock.now()
            await _drive(
                alive,
                step,
                in_flight=in_flight,
                guard=guard,
                progress=progress,
                label=f"hop {hop.key}",
            )
            after = await _settled(counters)
            stages.append(
                Stage(
                    key=hop.key,
                    attempted=len(alive),
                    times=[times[r.index] for r in alive if r.error is None],
                    counters_before=before,
                    counters_after=after,
                    events=Counter(kind for kind, _case, _at in spy.events[seen:]),
                )
            )
            before = after
        return StagedRun(todo, stages, time.perf_counter() - started)


async def _settled(counters: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """The database's counters once they stop moving for a second (at most 20 s), so the
    writes a hop causes after its last answer (consumers, relays) are counted with it."""
    latest = await counters()
    for _ in range(20):
        await asyncio.sleep(1.0)
        now = await counters()
        if _writes(now) == _writes(latest):
            return now
        latest = now
    return latest


def _writes(snapshot: dict[str, Any]) -> tuple[int, int]:
    ops = snapshot.get("opcounters", {})
    return int(ops.get("insert", 0)), int(ops.get("update", 0))
