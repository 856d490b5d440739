"""Case events intake consumes: the progress the partner follows."""

from __future__ import annotations

from corroborate.messaging.rabbit import EventHandler
from intake.service import PROGRESS_EVENTS, Intake


def event_handlers(intake: Intake) -> dict[str, EventHandler]:
    return dict.fromkeys(PROGRESS_EVENTS, intake.on_progress)
