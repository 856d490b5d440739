"""Webhook endpoints over HTTP: admins register them, partners read their delivery history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from corroborate.auth import Principal, Role
from corroborate.http import (
    ErrorAnswers,
    FieldError,
    InvalidFields,
    answering,
    problem_responses,
    require_roles,
)
from intake.adapters.webhooks import (
    DeliveryRecord,
    InvalidCursor,
    RegisteredEndpoint,
    WebhookNotRegistered,
    Webhooks,
)
from intake.domain.webhooks import (
    MAX_SECRET_LENGTH,
    MAX_URL_LENGTH,
    MIN_SECRET_LENGTH,
    DeliveryState,
    InvalidWebhookUrl,
)

Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Partner = Annotated[Principal, Depends(require_roles(Role.PARTNER))]
Organisation = Annotated[str, Path(min_length=1, max_length=200)]

ERRORS: ErrorAnswers = {
    WebhookNotRegistered: (
        status.HTTP_404_NOT_FOUND,
        "no webhook is registered for this organisation",
    ),
}
NOT_REGISTERED: dict[int | str, dict[str, Any]] = {
    404: {"description": "no webhook is registered for this organisation"}
}


def _webhooks(request: Request) -> Webhooks:
    webhooks: Webhooks = request.app.state.webhooks
    return webhooks


WebhookService = Annotated[Webhooks, Depends(_webhooks)]


class WebhookRegistration(BaseModel):
    """Where to POST an organisation's status changes, and the secret that signs them."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    url: Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH)]
    secret: Annotated[
        SecretStr,
        Field(
            min_length=MIN_SECRET_LENGTH,
            max_length=MAX_SECRET_LENGTH,
            description="HMAC-SHA256 key (its UTF-8 bytes); stored sealed, never shown again.",
        ),
    ]


class RegisteredWebhook(BaseModel):
    organisation: str
    url: str
    registered_at: datetime
    registered_by: str


class PartnerWebhook(BaseModel):
    url: str
    registered_at: datetime


class AttemptView(BaseModel):
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryView(BaseModel):
    delivery_id: uuid.UUID
    case_reference: str
    status: str
    occurred_at: datetime
    state: str
    attempts: list[AttemptView]
    next_attempt_at: datetime | None


class DeliveryHistory(BaseModel):
    deliveries: list[DeliveryView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page.")


def _registered(endpoint: RegisteredEndpoint) -> RegisteredWebhook:
    return RegisteredWebhook(
        organisation=endpoint.organisation,
        url=endpoint.url,
        registered_at=endpoint.registered_at,
        registered_by=endpoint.registered_by,
    )


def _delivery(record: DeliveryRecord) -> DeliveryView:
    return DeliveryView(
        delivery_id=uuid.UUID(record.delivery_id),
        case_reference=record.case_reference,
        status=record.status,
        occurred_at=record.occurred_at,
        state=record.state.value,
        attempts=[
            AttemptView(
                at=a.at, status_code=a.status_code, error=a.error, duration_ms=a.duration_ms
            )
            for a in record.attempts
        ],
        next_attempt_at=record.next_attempt_at if record.state is DeliveryState.PENDING else None,
    )


def build_webhook_router() -> APIRouter:
    router = APIRouter(tags=["webhooks"])

    @router.put(
        "/organisations/{organisation}/webhook",
        responses=problem_responses(401, 403, 422),
        summary="Register or replace an organisation's webhook (the secret is never shown again)",
    )
    async def register_webhook(
        organisation: Organisation,
        registration: WebhookRegistration,
        caller: Admin,
        webhooks: WebhookService,
    ) -> RegisteredWebhook:
        try:
            endpoint = await webhooks.register(
                organisation=organisation,
                url=registration.url,
                secret=registration.secret.get_secret_value(),
                registered_by=caller.subject,
            )
        except InvalidWebhookUrl as exc:
            raise InvalidFields(
                "the webhook URL is refused",
                [FieldError(field="url", rule=exc.rule, message=str(exc))],
            ) from exc
        return _registered(endpoint)

    @router.delete(
        "/organisations/{organisation}/webhook",
        status_code=status.HTTP_204_NO_CONTENT,
        responses={**problem_responses(401, 403), **NOT_REGISTERED},
        summary="Remove an organisation's webhook; later status changes are not sent",
    )
    async def remove_webhook(
        organisation: Organisation, _caller: Admin, webhooks: WebhookService
    ) -> Response:
        with answering(ERRORS):
            await webhooks.unregister(organisation)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get(
        "/webhook",
        responses={**problem_responses(401, 403), **NOT_REGISTERED},
        summary="Where this organisation's status changes are sent",
    )
    async def get_webhook(caller: Partner, webhooks: WebhookService) -> PartnerWebhook:
        assert caller.organisation is not None  # a partner token always names one
        with answering(ERRORS):
            endpoint = await webhooks.endpoint(caller.organisation)
        return PartnerWebhook(url=endpoint.url, registered_at=endpoint.registered_at)

    @router.get(
        "/webhook/deliveries",
        responses=problem_responses(401, 403, 422),
        summary="This organisation's webhook deliveries, newest status change first",
    )
    async def list_deliveries(
        caller: Partner,
        webhooks: WebhookService,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[
            str | None, Query(max_length=500, description="`next_cursor` of the previous page.")
        ] = None,
    ) -> DeliveryHistory:
        assert caller.organisation is not None
        try:
            page = await webhooks.history(
                organisation=caller.organisation, limit=limit, cursor=cursor
            )
        except InvalidCursor as exc:
            raise InvalidFields(
                "the cursor is refused",
                [FieldError(field="cursor", rule="invalid_cursor", message=str(exc))],
            ) from exc
        return DeliveryHistory(
            deliveries=[_delivery(r) for r in page.deliveries], next_cursor=page.next_cursor
        )

    return router
