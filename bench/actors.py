"""The actors of a pipeline run: their tokens, people watching lists (the triage queue, the
legal queue, the partner's referrals), and a spy on the case-events exchange."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import aio_pika
import httpx

from corroborate.auth import Role
from corroborate.settings import Settings
from corroborate.walk.calls import Bearer, WalkFailed
from corroborate.walk.steps import People

POLL_SECONDS = 0.05
WAIT_SECONDS = 120.0
CLINICIANS = tuple(f"bench-clinician-{n}" for n in range(1, 5))
SENIOR = "bench-senior-1"


class Clock:
    def __init__(self) -> None:
        self._zero = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self._zero


class Tokens:
    """Authorization headers for every actor, signed by the local issuer."""

    def __init__(self, settings: Settings, *, organisation: str) -> None:
        bearer = Bearer(settings, ttl_seconds=4 * 3600)
        self.partner = bearer(Role.PARTNER, "bench-solicitor", organisation=organisation)
        self.coordinator = bearer(Role.COORDINATOR, "bench-coordinator")
        self.legal = bearer(Role.LEGAL, "bench-legal")
        self.analyst = bearer(Role.ANALYST, "bench-analyst")
        self.senior = bearer(Role.SENIOR_CLINICIAN, SENIOR, name="Dr Bench Senior")
        self.clinicians = {c: bearer(Role.CLINICIAN, c, name=f"Dr {c.title()}") for c in CLINICIANS}

    def people(self) -> People:
        """Who walks each of the run's referrals."""
        return People(
            partner=self.partner,
            coordinator=self.coordinator,
            clinicians=self.clinicians,
            senior=self.senior,
            legal=self.legal,
        )


class Watch:
    """One actor polling a list (a queue, a page of referrals) for every referral waiting to
    appear in it: one request per poll however many wait, as a person watching a screen."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        headers: dict[str, str],
        clock: Clock,
        *,
        what: str,
        params: Callable[[list[str]], dict[str, Any]] = lambda _since: {},
        items: Callable[[Any], list[dict[str, Any]]] = list,
    ) -> None:
        self._http, self._url, self._headers, self._clock = http, url, headers, clock
        self._what, self._params, self._items = what, params, items
        self._waiting: dict[str, tuple[asyncio.Future[float], str]] = {}
        self._task: asyncio.Task[None] | None = None
        self.polls = 0

    async def seen(self, case_id: str, *, since: str = "") -> float:
        """When ``case_id`` was first seen in the list (``since``: its creation time, for
        lists that can be narrowed by it)."""
        future = asyncio.get_running_loop().create_future()
        self._waiting[case_id] = (future, since)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch())
        try:
            return await asyncio.wait_for(future, WAIT_SECONDS)
        except TimeoutError as exc:
            raise WalkFailed(f"{self._what}: not seen after {WAIT_SECONDS:.0f}s") from exc
        finally:
            self._waiting.pop(case_id, None)

    async def _watch(self) -> None:
        while self._waiting:
            since = [s for _f, s in self._waiting.values()]
            try:
                response = await self._http.get(
                    self._url, params=self._params(since), headers=self._headers
                )
            except httpx.HTTPError:
                response = None
            self.polls += 1
            at = self._clock.now()
            if response is not None and response.status_code == 200:
                try:
                    listed = [str(item["case_id"]) for item in self._items(response.json())]
                except (ValueError, KeyError, TypeError):
                    listed = []  # an unreadable answer is a missed poll, not a dead watcher
                for case_id in listed:
                    future, _since = self._waiting.get(case_id, (None, ""))
                    if future is not None and not future.done():
                        future.set_result(at)
            await asyncio.sleep(POLL_SECONDS)

    async def close(self) -> None:
        """Stop watching (the run is over; anyone still waiting has given up)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task


class EventSpy:
    """A queue of the run's own bound to every routing key of the case-events exchange."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._settings, self._clock = settings, clock
        self.events: list[tuple[str, str, float]] = []
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self._settings.amqp_url.get_secret_value())
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=256)
        exchange = await channel.get_exchange(f"{self._settings.namespace}.case-events")
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="#")
        await queue.consume(self._on_message, no_ack=True)

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        at = self._clock.now()
        body = json.loads(message.body)
        self.events.append((str(body.get("type")), str(body.get("case_id")), at))

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.close()
