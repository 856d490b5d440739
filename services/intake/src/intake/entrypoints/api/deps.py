"""What intake's routes depend on: its use cases, and the Idempotency-Key header."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path

from corroborate.http import from_state
from intake.service import Intake
from intake.service.directory import DirectoryService
from intake.service.webhooks import Webhooks

IntakeService = Annotated[Intake, Depends(from_state(Intake, "intake"))]
WebhookService = Annotated[Webhooks, Depends(from_state(Webhooks, "webhooks"))]
DirectoryAdmin = Annotated[DirectoryService, Depends(from_state(DirectoryService, "directory"))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[A-Za-z0-9._:-]{8,100}$",
        max_length=100,
        description="Retrying with the same key repeats nothing: one referral, one document.",
    ),
]
Organisation = Annotated[str, Path(min_length=1, max_length=200)]
