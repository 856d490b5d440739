"""The deadline watch: a pass on each poll, a log line when it raised something, and a stop
that lets the pass in flight finish."""

from __future__ import annotations

import asyncio

import structlog

from review.entrypoints.loops import DeadlineWatch


class Escalations:
    """Stands in for ``Review.escalate_due``: answers the counts given, then fails or idles."""

    def __init__(self, *counts: int | Exception) -> None:
        self._counts = list(counts)
        self.passes = 0
        self.done = asyncio.Event()

    async def __call__(self) -> int:
        self.passes += 1
        if not self._counts:
            self.done.set()
            return 0
        count = self._counts.pop(0)
        if isinstance(count, Exception):
            raise count
        return count


async def test_a_pass_that_raised_escalations_says_so_and_a_quiet_one_says_nothing() -> None:
    escalations = Escalations(2, 0)
    watch = DeadlineWatch(escalations, poll_seconds=60)

    with structlog.testing.capture_logs() as logs:
        assert await watch.run_once() == 2
        assert await watch.run_once() == 0

    assert [(e["event"], e.get("raised")) for e in logs] == [("deadlines escalated", 2)]


async def test_a_failed_pass_is_logged_and_the_watch_goes_on_until_stopped() -> None:
    escalations = Escalations(ConnectionError("database down"), 1)
    watch = DeadlineWatch(escalations, poll_seconds=0.01)

    with structlog.testing.capture_logs() as logs:
        await watch.start()
        await asyncio.wait_for(escalations.done.wait(), timeout=5)
        await watch.stop()

    assert escalations.passes >= 3
    failed = [e for e in logs if e["event"] == "deadline check failed"]
    assert [e["error"] for e in failed] == ["ConnectionError"]
    assert any(e["event"] == "deadlines escalated" for e in logs)
    assert watch.stopping
