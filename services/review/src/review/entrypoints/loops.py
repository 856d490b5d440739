"""Deadlines watched on a timer: overdue triage, no appointment, report due soon or overdue.

The timer only decides when to look; what is at risk is computed from each case's own data,
and what was raised is saved with the event, so a restart loses and repeats nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from corroborate.logging import get_logger
from corroborate.loops import PollLoop

log = get_logger(__name__)


class DeadlineWatch(PollLoop):
    """Escalates every deadline due (``Review.escalate_due``), once a poll
    (``CORROBORATE_DEADLINE_POLL_SECONDS``)."""

    name = "deadline-watch"

    def __init__(self, escalate_due: Callable[[], Awaitable[int]], *, poll_seconds: float) -> None:
        super().__init__(poll_seconds=poll_seconds)
        self._escalate_due = escalate_due

    async def run_once(self) -> int:
        raised = await self._escalate_due()
        if raised:
            log.info("deadlines escalated", outcome="ok", raised=raised)
        return raised

    def failed(self, error: BaseException) -> None:
        # A database outage: look again at the next tick.
        log.warning("deadline check failed", error=type(error).__name__)
