"""How a keyed retry is answered: the first answer again, marked as a replay."""

from __future__ import annotations

from typing import Any

from fastapi import Response, status

from intake.service import Replayed

REPLAYED_HEADER = "Idempotent-Replayed"


def mark_replayed(response: Response, result: Replayed[Any], *, created: bool = False) -> None:
    if result.replayed:
        response.headers[REPLAYED_HEADER] = "true"
        response.status_code = status.HTTP_200_OK
    elif created:
        response.status_code = status.HTTP_201_CREATED
