"""Deadlines watched on a timer: overdue triage, no appointment, report due soon or overdue.

The timer only decides when to look; what is at risk is computed from each case's own data,
and what was raised is saved with the event, so a restart loses and repeats nothing.
"""

from __future__ import annotations

import asyncio
import contextlib

from corroborate.logging import get_logger
from review.service import Review

log = get_logger(__name__)


class DeadlineWatch:
    STOP_WITHIN = 10.0

    def __init__(self, review: Review, *, poll_seconds: float) -> None:
        self._review = review
        self._poll_seconds = poll_seconds
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        return await self._review.escalate_due()

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="deadline-watch")

    async def stop(self) -> None:
        """Ask the loop to end; cancel it only if it does not within ``STOP_WITHIN`` (a database
        client may swallow a cancellation that lands mid-call)."""
        if self._task is None:
            return
        self._stopping.set()
        done, _ = await asyncio.wait({self._task}, timeout=self.STOP_WITHIN)
        if not done:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                raised = await self.run_once()
                if raised:
                    log.info("deadlines escalated", outcome="ok", raised=raised)
            except Exception as exc:  # a database outage: look again at the next tick
                log.warning("deadline check failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._poll_seconds)
