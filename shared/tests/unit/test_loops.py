"""The one background loop: passes on a poll and on a nudge, back-off, one way of stopping."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import structlog.testing

from corroborate.loops import PollLoop


class Counting(PollLoop):
    """Counts its passes; fails the first ``failures`` of them."""

    name = "counting"

    def __init__(self, *, failures: int = 0, pass_seconds: float = 0.0, **kwargs: float) -> None:
        super().__init__(**kwargs)
        self.passes = 0
        self.failures = failures
        self.pass_seconds = pass_seconds
        self.finished_passes = 0
        self.prepared = False
        self.closed = False

    async def prepare(self) -> None:
        self.prepared = True

    async def close(self) -> None:
        self.closed = True

    async def run_once(self) -> int:
        self.passes += 1
        if self.passes <= self.failures:
            raise ConnectionError("database away")
        await asyncio.sleep(self.pass_seconds)
        self.finished_passes += 1
        return 1


async def wait_for(test: Callable[[], bool], seconds: float = 2.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if test():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within {seconds} s")


async def test_a_nudge_runs_a_pass_before_the_poll_is_due() -> None:
    loop = Counting(poll_seconds=60.0)
    await loop.start()
    try:
        await wait_for(lambda: loop.passes == 1)
        loop.notify()
        await wait_for(lambda: loop.passes == 2)
    finally:
        await loop.stop()
    assert loop.prepared
    assert loop.closed


async def test_the_poll_runs_passes_without_a_nudge() -> None:
    loop = Counting(poll_seconds=0.02)
    await loop.start()
    try:
        await wait_for(lambda: loop.passes >= 4)
    finally:
        await loop.stop()


async def test_a_failed_pass_is_logged_and_retried_after_a_growing_delay() -> None:
    loop = Counting(failures=3, poll_seconds=0.05, max_backoff_seconds=0.1)
    with structlog.testing.capture_logs() as logs:
        started = asyncio.get_running_loop().time()
        await loop.start()
        try:
            await wait_for(lambda: loop.finished_passes == 1)
        finally:
            await loop.stop()
        took = asyncio.get_running_loop().time() - started
    failed = [e for e in logs if e["event"] == "background pass failed; will retry"]
    assert [(e["loop"], e["error"]) for e in failed] == [("counting", "ConnectionError")] * 3
    # Delays 0.1 (doubled from 0.05), then capped at 0.1 twice: at least 0.3 s in all.
    assert took >= 0.3


async def test_stop_lets_the_pass_in_flight_finish_within_the_grace() -> None:
    loop = Counting(poll_seconds=60.0, pass_seconds=0.2, stop_grace_seconds=2.0)
    await loop.start()
    await wait_for(lambda: loop.passes == 1)
    await loop.stop()
    assert loop.finished_passes == 1
    assert loop.stopping
    assert loop.closed


async def test_stop_cancels_a_pass_that_outlasts_the_grace() -> None:
    loop = Counting(poll_seconds=60.0, pass_seconds=30.0, stop_grace_seconds=0.1)
    await loop.start()
    await wait_for(lambda: loop.passes == 1)
    started = asyncio.get_running_loop().time()
    await loop.stop()
    assert asyncio.get_running_loop().time() - started < 1.0
    assert loop.finished_passes == 0
    assert loop.closed


async def test_a_loop_starts_again_after_stopping() -> None:
    loop = Counting(poll_seconds=60.0)
    await loop.start()
    await wait_for(lambda: loop.passes == 1)
    await loop.stop()
    await loop.start()
    try:
        await wait_for(lambda: loop.passes == 2)
    finally:
        await loop.stop()


def test_a_poll_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        Counting(poll_seconds=0)
