"""Faults while referrals move: nothing lost, nothing done twice, no one needed to recover it.

Two hundred referrals go through the whole workflow over the HTTP APIs (partners, the triage
coordinator, clinicians, senior clinicians and legal), a bounded number at a time. Meanwhile
each service process is killed with SIGKILL twice, the RabbitMQ node is killed and started
again once, and so is the database server (on-disk, same data). A supervisor restarts what
exits, as systemd would; nothing else intervenes. Then every referral must be issued and seen
as issued by its partner, and each effect must exist exactly once: on the bus (events counted
by event id, per case and type), in each service's database (documents and histories counted
by case) and at the partner's webhook (one delivery per status change).

The faults strike at random moments (seeded; ``CORROBORATE_FAULTS_SEED`` replays a run),
spread over the run by progress so that each finds referrals in flight.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import httpx
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from corroborate.audit import COLLECTION as AUDIT_COLLECTION
from corroborate.audit import AuditLog
from corroborate.walk.calls import WalkFailed
from corroborate.walk.steps import Services
from corroborate_testing import Receiver
from corroborate_testing.servers import SERVICES, FaultWorld
from corroborate_testing.workflow import (
    CallFigures,
    Cast,
    PatientHttp,
    Walked,
    prepare_roster,
    services_of,
    walk_referral,
)

pytestmark = pytest.mark.faults

REFERRALS = 200
IN_FLIGHT = 24
ORGANISATIONS = 4
WORKLOAD_SECONDS = 840.0  # every referral's whole walk, faults included (about 450-500 s here)
SETTLE_SECONDS = 60.0  # then: every outbox empty, every webhook delivered
PATIENCE_SECONDS = 150.0  # one call, or one wait, through an outage
# Webhooks trail the status by up to a couple of minutes while 24 referrals move on a busy
# machine (the dispatcher works through a backlog after each intake restart): the partner's
# wait for the news of the issued report allows for that.
HEARING_SECONDS = 300.0

EXPECTED_EVENTS = (
    "referral.submitted",
    "referral.acknowledged",
    "referral.accepted",
    "case.assigned",
    "appointment.booked",
    "review.completed",
    "report.issued",
)
EXPECTED_NOTIFICATIONS = (
    "submitted",
    "acknowledged",
    "accepted",
    "in_assessment",
    "appointment_booked",
    "in_legal_review",
    "issued",
)
ONE_PER_CASE = ("assignments", "decisions", "appointments", "versions")

Database = AsyncDatabase[dict[str, Any]]


# --- the faults ---------------------------------------------------------------------------------


@dataclass
class Fault:
    kind: str  # "kill" (a service) or "restart" (the broker or the database)
    target: str
    at_progress: int
    struck_at: float = 0.0
    recovered_in: float = 0.0


@dataclass
class Progress:
    done: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def one_more(self) -> None:
        self.done += 1
        self.changed.set()

    async def reached(self, count: int) -> None:
        while self.done < count:
            self.changed.clear()
            await self.changed.wait()


def _plan_faults(rng: random.Random) -> list[Fault]:
    kinds = [("kill", s) for s in SERVICES for _ in range(2)]
    kinds += [("restart", "rabbitmq"), ("restart", "secantusdb")]
    rng.shuffle(kinds)
    # Spread over the first 80% of the run, so every fault finds referrals in flight.
    step = REFERRALS * 0.8 / len(kinds)
    return [
        Fault(kind=kind, target=target, at_progress=int(step * i + rng.uniform(0, step / 2)))
        for i, (kind, target) in enumerate(kinds)
    ]


async def _strike(world: FaultWorld, faults: list[Fault], progress: Progress, seed: int) -> None:
    """Each fault once its share of referrals is done, at a random moment after that; then
    wait until every service answers ready again (broker, database and storage included)."""
    rng = random.Random(seed + 1)  # noqa: S311 - chaos, not secrets
    for fault in faults:
        await progress.reached(fault.at_progress)
        await asyncio.sleep(rng.uniform(0.0, 4.0))
        fault.struck_at = time.monotonic()
        if fault.kind == "kill":
            world.supervisor.kill(fault.target)
        else:
            server = world.rabbit if fault.target == "rabbitmq" else world.mongo
            await asyncio.to_thread(server.kill)
            await asyncio.sleep(rng.uniform(1.0, 3.0))  # down for a moment
            server.spawn()
            await server.wait_ready(within=120)
        while not await world.supervisor.all_ready():  # noqa: ASYNC110 - other processes
            await asyncio.sleep(0.2)
        fault.recovered_in = time.monotonic() - fault.struck_at
        print(
            f"[faults] {fault.kind} {fault.target} after {fault.at_progress} issued: "
            f"ready again in {fault.recovered_in:.1f}s"
        )


# --- what the partners heard --------------------------------------------------------------------


class PartnerHooks:
    """What the partners' webhook endpoint received, read incrementally."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.posts: list[dict[str, Any]] = []
        self._read = 0
        self._issued: set[str] = set()

    def _refresh(self) -> None:
        for request in self.receiver.requests[self._read :]:
            body = request.json
            self.posts.append(body)
            if body["status"] == "issued":
                self._issued.add(body["case_reference"])
        self._read = len(self.receiver.requests)

    async def issued(self, reference: str) -> None:
        """Return once the partner's endpoint has been told the report was issued."""
        deadline = time.monotonic() + HEARING_SECONDS
        while True:
            self._refresh()
            if reference in self._issued:
                return
            if time.monotonic() > deadline:
                raise WalkFailed(f"{reference}: the partner never heard it was issued")
            await asyncio.sleep(1.0)

    def per_change(self) -> tuple[dict[tuple[str, str], set[str]], int]:
        """Delivery ids per (case reference, status), and how many POSTs repeated one."""
        self._refresh()
        ids: dict[tuple[str, str], set[str]] = defaultdict(set)
        for post in self.posts:
            ids[(post["case_reference"], post["status"])].add(post["delivery_id"])
        return ids, len(self.posts) - sum(len(v) for v in ids.values())


# --- counting -----------------------------------------------------------------------------------


@dataclass
class Findings:
    """Everything counted after the run; each entry names what is wrong and for which case."""

    lost: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    events_seen: int = 0
    republished_copies: int = 0
    repeated_webhook_posts: int = 0
    parked: dict[str, int] = field(default_factory=dict)
    chains: dict[str, str] = field(default_factory=dict)  # "intact" or where it breaks

    def expect(self, what: str, count: int, expected: int = 1) -> None:
        if count < expected:
            self.lost.append(f"{what}: {count}, expected {expected}")
        elif count > expected:
            self.duplicates.append(f"{what}: {count}, expected {expected}")


async def _count_bus(world: FaultWorld, cases: set[str], found: Findings) -> None:
    """Every event on the exchange, from the spy queue: distinct event ids per case and type."""
    async with await aio_pika.connect(world.settings.amqp_url.get_secret_value()) as connection:
        channel = await connection.channel()
        queue = await channel.get_queue(world.spy_queue)
        bodies: list[dict[str, Any]] = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            bodies.append(json.loads(message.body))
        for service in SERVICES:
            parking = await channel.declare_queue(
                f"{world.settings.namespace}.{service}.parking", passive=True
            )
            found.parked[service] = parking.declaration_result.message_count or 0
    found.events_seen = len(bodies)
    found.republished_copies = len(bodies) - len({b["event_id"] for b in bodies})
    distinct: dict[tuple[str, str], set[str]] = defaultdict(set)
    for body in bodies:
        distinct[(body["case_id"], body["type"])].add(body["event_id"])
    for case in cases:
        for event_type in EXPECTED_EVENTS:
            found.expect(f"bus: {event_type} for {case}", len(distinct[(case, event_type)]))
    strays = {case for case, _ in distinct} - cases
    found.duplicates += [f"bus: events for a case nobody referred: {c}" for c in sorted(strays)]


async def _count_by_case(
    database: Database, collection: str, key: str, cases: set[str], found: Findings
) -> None:
    counts: Counter[str] = Counter()
    async for raw in database[collection].find({}, {key: 1}):
        counts[str(raw[key])] += 1
    for case in cases:
        found.expect(f"{database.name}.{collection} for {case}", counts[case])
    found.duplicates += [
        f"{database.name}.{collection}: {case}, which nobody referred"
        for case in sorted(set(counts) - cases)
    ]


async def _count_databases(world: FaultWorld, cases: set[str], found: Findings) -> None:
    """Documents by case in each service's database, and the histories inside them."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        world.settings.mongo_url.get_secret_value()
    )
    ns = world.settings.namespace
    intake, review, reporting = (client[f"{ns}_{s}"] for s in SERVICES)
    try:
        await _count_by_case(intake, "referrals", "_id", cases, found)
        await _count_by_case(review, "cases", "_id", cases, found)  # the triage items
        await _count_by_case(reporting, "legal_reviews", "_id", cases, found)
        per_change: Counter[tuple[str, str]] = Counter()
        async for raw in intake["webhook_deliveries"].find({}, {"case_id": 1, "status": 1}):
            per_change[(raw["case_id"], raw["status"])] += 1
        async for raw in intake["referrals"].find({}, {"timeline": 1, "status": 1}):
            timeline = Counter(entry["status"] for entry in raw.get("timeline", []))
            for status in EXPECTED_NOTIFICATIONS:
                found.expect(f"intake timeline: {status} for {raw['_id']}", timeline[status])
                found.expect(
                    f"intake deliveries: {status} for {raw['_id']}",
                    per_change[(raw["_id"], status)],
                )
            if raw["status"] != "issued":
                found.lost.append(f"intake: {raw['_id']} is {raw['status']}, not issued")
        async for raw in review["cases"].find({}, dict.fromkeys(ONE_PER_CASE, 1)):
            for history in ONE_PER_CASE:
                found.expect(f"review {history} for {raw['_id']}", len(raw.get(history) or []))
        async for raw in reporting["legal_reviews"].find({}, {"reports": 1}):
            found.expect(f"issued report versions for {raw['_id']}", len(raw.get("reports") or []))
        found.expect(
            "anonymised statistics (cases)",
            await reporting["patterns"].count_documents({}),
            len(cases),
        )
        for service, database in zip(SERVICES, (intake, review, reporting), strict=True):
            broken = await AuditLog(database[AUDIT_COLLECTION], service=service).verify()
            found.chains[service] = (
                "intact" if broken is None else f"broken at {broken.seq}: {broken.reason}"
            )
    finally:
        await client.close()


async def _count_partner_views(
    http: PatientHttp, world: FaultWorld, cast: Cast, walked: list[Walked], found: Findings
) -> None:
    """The partner opens each referral: issued, with one report version."""
    gate = asyncio.Semaphore(8)

    intake = http.at(world.settings.intake_url)

    async def check(w: Walked) -> None:
        async with gate:
            view = await intake.read(
                f"/referrals/{w.case_id}", headers=cast.partners[w.organisation]
            )
        if view["status"] != "issued":
            found.lost.append(f"partner sees {w.case_id} as {view['status']}")
        found.expect(
            f"report versions the partner sees for {w.case_id}", len(view["report_versions"])
        )

    await asyncio.gather(*(check(w) for w in walked))


def _count_webhooks(hooks: PartnerHooks, walked: list[Walked], found: Findings) -> None:
    ids, found.repeated_webhook_posts = hooks.per_change()
    for w in walked:
        for status in EXPECTED_NOTIFICATIONS:
            found.expect(
                f"webhook: {status} for {w.reference}", len(ids[(str(w.reference), status)])
            )


async def _quiet(world: FaultWorld) -> bool:
    """No event waits in an outbox, and no partner notification waits for delivery."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        world.settings.mongo_url.get_secret_value()
    )
    ns = world.settings.namespace
    try:
        pending = 0
        for service in SERVICES:
            database = client[f"{ns}_{service}"]
            for name in await database.list_collection_names():
                pending += await database[name].count_documents({"outbox_pending": True})
        intake = client[f"{ns}_intake"]
        pending += await intake["webhook_deliveries"].count_documents({"state": "pending"})
        pending += await intake["referrals"].count_documents(
            {"pending_notifications.change_id": {"$exists": True}}
        )
        return pending == 0
    finally:
        await client.close()


# --- the run ------------------------------------------------------------------------------------


@dataclass
class Run:
    world: FaultWorld
    seed: int
    cast: Cast
    hooks: PartnerHooks
    figures: CallFigures = field(default_factory=CallFigures)
    faults: list[Fault] = field(default_factory=list)
    walked: list[Walked] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    walk_seconds: float = 0.0

    async def prepare(self, services: Services) -> None:
        """Each organisation's webhook goes to the partners' receiver; the roster is filled."""
        for organisation in self.cast.partners:
            await services.intake.change(
                "admin points the organisation's webhook at the partners' receiver",
                "PUT",
                f"/organisations/{organisation}/webhook",
                headers=self.cast.admin,
                expect={200},
                json={"url": self.hooks.receiver.url, "secret": f"{organisation:0>40}"},
            )
        await prepare_roster(services, self.cast)

    async def walk_all_under_faults(self, services: Services) -> None:
        progress = Progress()
        failures: list[str] = []
        gate = asyncio.Semaphore(IN_FLIGHT)
        key = uuid.uuid4().hex[:8]

        async def one(w: Walked) -> None:
            async with gate:
                try:
                    await walk_referral(
                        services,
                        self.cast,
                        w,
                        run=key,
                        patience=PATIENCE_SECONDS,
                        issued=self.hooks.issued,
                    )
                except WalkFailed as exc:
                    failures.append(f"referral {w.index} ({w.case_id}) after {w.steps}: {exc}")
                else:
                    progress.one_more()

        chaos = asyncio.create_task(_strike(self.world, self.faults, progress, self.seed))
        try:
            async with asyncio.timeout(WORKLOAD_SECONDS):
                await asyncio.gather(*(one(w) for w in self.walked))
                assert not failures, "\n".join(failures[:20])
                await chaos
        except TimeoutError:
            stuck = Counter(w.steps[-1] if w.steps else "not started" for w in self.walked)
            del stuck["partner told: issued"]
            pytest.fail(
                f"seed {self.seed}: {progress.done} of {len(self.walked)} referrals done within "
                f"{WORKLOAD_SECONDS:.0f}s; the others by the last step they finished: "
                f"{dict(stuck)}; {self.figures.retries} retries so far"
            )
        finally:
            chaos.cancel()
        self.walk_seconds = time.monotonic() - self.started

    def report(self, found: Findings) -> None:
        last_fault = max(f.struck_at for f in self.faults) - self.started
        supervisor = self.world.supervisor
        kills = Counter(f.target for f in self.faults if f.kind == "kill")
        f = self.figures
        lines = [
            f"seed {self.seed}: {len(self.walked)} referrals, {IN_FLIGHT} in flight, all issued "
            f"in {self.walk_seconds:.0f}s ({time.monotonic() - self.started:.0f}s with the checks)",
            f"kills (SIGKILL): {dict(kills)}; supervisor restarts {supervisor.restarts}, "
            f"unplanned exits {supervisor.unplanned}",
            "restarts: rabbitmq 1 (node SIGKILLed, started on its data), secantusdb 1 (same)",
            "recovery, fault to every service ready: "
            + ", ".join(f"{x.target} {x.recovered_in:.1f}s" for x in self.faults)
            + f"; longest {max(x.recovered_in for x in self.faults):.1f}s; last referral "
            f"issued {self.walk_seconds - last_fault:.0f}s after the last fault",
            f"actors: {f.retries} retries; {f.unknown_outcomes} unknown outcomes, of which "
            f"{f.found_done} found done by reading and {f.replayed} answered by "
            f"Idempotency-Key replay; met {f.errors}",
            f"bus: {found.events_seen} messages, {found.republished_copies} repeated copies of "
            f"an event id (dropped by consumers); parked {found.parked}",
            f"webhook POSTs repeating a delivery id: {found.repeated_webhook_posts}",
            f"audit chains: {found.chains}",
            f"duplicates found = {len(found.duplicates)}, lost = {len(found.lost)}",
        ]
        print("\n" + "\n".join(f"[faults] {line}" for line in lines))


@pytest.mark.timeout(1200)
async def test_referrals_survive_killed_services_and_restarted_servers(
    fault_world: FaultWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_text = os.environ.get("CORROBORATE_FAULTS_SEED")
    seed = int(seed_text) if seed_text else random.SystemRandom().randrange(10**6)
    receiver = Receiver()
    await receiver.start()
    run = Run(
        world=fault_world,
        seed=seed,
        cast=Cast.signed(
            fault_world.settings, organisations=ORGANISATIONS, clinicians=6, seniors=2
        ),
        hooks=PartnerHooks(receiver),
        faults=_plan_faults(random.Random(seed)),  # noqa: S311 - chaos, not secrets
        walked=[
            Walked(index=i, organisation=f"faults-firm-{i % ORGANISATIONS}")
            for i in range(REFERRALS)
        ],
    )
    found = Findings()
    cases: set[str] = set()
    try:
        async with httpx.AsyncClient(timeout=30.0) as client:
            http = PatientHttp(client, patience=PATIENCE_SECONDS, figures=run.figures)
            services = services_of(http, fault_world.settings)
            await run.prepare(services)
            await run.walk_all_under_faults(services)
            cases = {str(w.case_id) for w in run.walked}
            deadline = time.monotonic() + SETTLE_SECONDS
            while not await _quiet(fault_world) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(1.0)
            await _count_partner_views(http, fault_world, run.cast, run.walked, found)
        await _count_bus(fault_world, cases, found)
        await _count_databases(fault_world, cases, found)
        _count_webhooks(run.hooks, run.walked, found)
    finally:
        await receiver.stop()
    with capsys.disabled():  # the figures belong in every run's output, passed or not
        run.report(found)
    assert not found.lost, "\n".join(found.lost[:30])
    assert not found.duplicates, "\n".join(found.duplicates[:30])
    assert not any(found.parked.values()), found.parked
    assert set(found.chains.values()) == {"intact"}, found.chains
