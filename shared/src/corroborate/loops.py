"""The one background loop every service uses: a pass on a poll, at once when nudged.

A failed pass is logged and tried again after a delay that doubles up to a bound, so a loop
outlives broker and database outages. Stopping asks the loop to end, lets the pass in flight
finish within a grace period, and cancels it only past that (a database client may swallow a
cancellation that lands mid-call, and a cancelled pass must leave nothing half done that the
next start cannot finish).
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod

from corroborate.logging import get_logger

log = get_logger("corroborate.loops")


class PollLoop(ABC):
    """Runs ``run_once`` every ``poll_seconds`` and whenever ``notify`` is called."""

    name = "poll-loop"

    def __init__(
        self,
        *,
        poll_seconds: float,
        max_backoff_seconds: float = 60.0,
        stop_grace_seconds: float = 5.0,
    ) -> None:
        if poll_seconds <= 0 or max_backoff_seconds <= 0 or stop_grace_seconds < 0:
            raise ValueError("poll and back-off must be positive, the grace not negative")
        self._poll_seconds = poll_seconds
        self._max_backoff = max(max_backoff_seconds, poll_seconds)
        self._stop_grace = stop_grace_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    async def run_once(self) -> int:
        """One pass; return how much it did (for the log)."""

    async def prepare(self) -> None:  # noqa: B027 - a hook; most loops need none
        """What must be in place before the first pass (say, indexes)."""

    async def close(self) -> None:  # noqa: B027 - a hook; most loops hold nothing
        """Release what the loop holds once it has stopped (say, an HTTP client)."""

    @property
    def stopping(self) -> bool:
        """True once ``stop`` was called: a long pass checks it between items."""
        return self._stopping

    def notify(self) -> None:
        """Something to do was saved: run a pass now rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        await self.prepare()
        self._stopping = False
        self._wake.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """End the loop: the pass in flight may finish within the grace period."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            done, _ = await asyncio.wait({task}, timeout=self._stop_grace)
            if not done:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.close()

    async def _run(self) -> None:
        delay = self._poll_seconds
        while not self._stopping:
            try:
                await self.run_once()
                delay = self._poll_seconds
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # outages are waited out; the loop must go on
                self.failed(_first_cause(exc))
                delay = min(delay * 2, self._max_backoff)
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            self._wake.clear()

    def failed(self, error: BaseException) -> None:
        """Log a failed pass; only the error's type, which never holds case data."""
        log.warning(
            "background pass failed; will retry",
            loop=self.name,
            error=type(error).__name__,
            outcome="error",
        )


def _first_cause(exc: BaseException) -> BaseException:
    """A task group's first failure says what went wrong."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc
