"""Webhook endpoints: admins register them, partners read their delivery history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from corroborate.http import Admin, Partner, problem_responses
from intake.entrypoints.api.deps import Organisation, WebhookService
from intake.entrypoints.api.schemas import (
    DeliveryHistory,
    DeliveryView,
    PartnerWebhook,
    RegisteredWebhook,
    WebhookRegistration,
)

router = APIRouter(tags=["webhooks"])
NOT_REGISTERED: dict[int | str, dict[str, Any]] = {
    404: {"description": "no webhook is registered for this organisation"}
}


@router.put(
    "/organisations/{organisation}/webhook",
    responses=problem_responses(401, 403, 422),
    summary="Register or replace an organisation's webhook (the secret is never shown again)",
)
async def register_webhook(
    *,
    organisation: Organisation,
    registration: WebhookRegistration,
    caller: Admin,
    webhooks: WebhookService,
) -> RegisteredWebhook:
    endpoint = await webhooks.register(
        organisation=organisation,
        url=registration.url,
        secret=registration.secret.get_secret_value(),
        registered_by=caller.subject,
    )
    return RegisteredWebhook.model_validate(endpoint)


@router.delete(
    "/organisations/{organisation}/webhook",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**problem_responses(401, 403), **NOT_REGISTERED},
    summary="Remove an organisation's webhook; later status changes are not sent",
)
async def remove_webhook(
    *, organisation: Organisation, _caller: Admin, webhooks: WebhookService
) -> Response:
    await webhooks.unregister(organisation=organisation)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/webhook",
    responses={**problem_responses(401, 403), **NOT_REGISTERED},
    summary="Where this organisation's status changes are sent",
)
async def get_webhook(*, caller: Partner, webhooks: WebhookService) -> PartnerWebhook:
    assert caller.organisation is not None  # a partner token always names one
    return PartnerWebhook.model_validate(await webhooks.endpoint(organisation=caller.organisation))


@router.get(
    "/webhook/deliveries",
    responses=problem_responses(401, 403, 422),
    summary="This organisation's webhook deliveries, newest status change first",
)
async def list_deliveries(
    *,
    caller: Partner,
    webhooks: WebhookService,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=500, description="`next_cursor` of the previous page.")
    ] = None,
) -> DeliveryHistory:
    assert caller.organisation is not None
    page = await webhooks.history(organisation=caller.organisation, limit=limit, cursor=cursor)
    return DeliveryHistory(
        deliveries=[DeliveryView.of(r) for r in page.deliveries], next_cursor=page.next_cursor
    )
