"""Intake's background loop: the webhook dispatcher, a pass on a poll and whenever nudged."""

from __future__ import annotations

from corroborate.logging import get_logger
from corroborate.loops import PollLoop
from intake.service.webhooks import WebhookDispatch

log = get_logger(__name__)


class WebhookDispatcher(PollLoop):
    """Runs the webhook dispatch pass; an interrupted attempt keeps its lease and is retried
    when the lease expires."""

    name = "webhook-dispatcher"

    def __init__(
        self,
        dispatch: WebhookDispatch,
        *,
        poll_seconds: float = 5.0,
        stop_grace_seconds: float = 5.0,
    ) -> None:
        super().__init__(poll_seconds=poll_seconds, stop_grace_seconds=stop_grace_seconds)
        self.dispatch = dispatch

    async def prepare(self) -> None:
        await self.dispatch.prepare()

    async def run_once(self) -> int:
        """Move every pending notification, then attempt each due delivery once; return attempts."""
        return await self.dispatch.run(stopping=lambda: self.stopping)

    async def close(self) -> None:
        await self.dispatch.close()

    def failed(self, error: BaseException) -> None:
        log.warning("webhook pass failed; will retry", error=type(error).__name__, outcome="error")
