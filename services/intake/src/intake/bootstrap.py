"""Intake's composition root: builds the clients, wires the use cases, serves HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
from fastapi import FastAPI
from faststream import FastStream
from pymongo.asynchronous.collection import AsyncCollection

from corroborate.access_tokens import AccessTokens, MachineCallers
from corroborate.crypto import KeyRing
from corroborate.http import answer_errors
from corroborate.links import DownloadLinks
from corroborate.logging import configure_logging
from corroborate.mongo import Document
from corroborate.oidc import ProviderKeys
from corroborate.openapi import add_components
from corroborate.runtime import ServiceRuntime, service_app
from corroborate.settings import Settings, load_settings
from corroborate.web.app import ProviderClient, install_pages, portal_urls, web_sign_in
from corroborate.web.signin import WebSignIn
from intake.adapters.directory_store import CLIENTS, ORGANISATIONS, PEOPLE, MongoDirectory
from intake.adapters.repository import COLLECTION, MongoReferrals
from intake.adapters.webhook_sender import HttpWebhookSender
from intake.adapters.webhook_store import (
    DELIVERIES,
    ENDPOINTS,
    MongoPendingNotifications,
    MongoWebhookDeliveries,
    MongoWebhookEndpoints,
)
from intake.domain.webhooks import DEFAULT_RETRY_POLICY, RetryPolicy
from intake.entrypoints import pages
from intake.entrypoints.api import ERRORS, ROUTERS
from intake.entrypoints.api.schemas import REFERRAL_COMPONENTS
from intake.entrypoints.events import event_handlers
from intake.entrypoints.loops import WebhookDispatcher
from intake.ports import WebhookDeliveries, WebhookEndpoints
from intake.service import PUBLISHES, Intake
from intake.service.directory import DirectoryService
from intake.service.webhooks import WebhookDispatch, Webhooks

SERVICE = "intake"
TITLE = "Corroborate intake"
VERSION = "0.1.0"
DOCUMENTS = "intake-documents"


@dataclass(frozen=True)
class Wiring:
    runtime: ServiceRuntime
    intake: Intake
    webhooks: Webhooks
    dispatcher: WebhookDispatcher
    directory: DirectoryService
    provider: ProviderClient
    sign_in: WebSignIn | None
    machines: MachineCallers | None
    """Partners' own systems, calling with client-credentials tokens from the provider."""


def webhook_dispatcher(
    *,
    referrals: AsyncCollection[Document],
    endpoints: WebhookEndpoints,
    deliveries: WebhookDeliveries,
    keyring: KeyRing,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    http: httpx.AsyncClient | None = None,
    poll_seconds: float = 5.0,
    timeout_seconds: float = 10.0,
    concurrency: int = 8,
    stop_grace_seconds: float = 5.0,
    allow_private_addresses: bool = False,
) -> WebhookDispatcher:
    """The background dispatcher of webhook deliveries, over the referrals' queued notices."""
    dispatch = WebhookDispatch(
        pending=MongoPendingNotifications(referrals),
        endpoints=endpoints,
        deliveries=deliveries,
        keyring=keyring,
        sender=HttpWebhookSender(
            timeout_seconds=timeout_seconds,
            allow_private_addresses=allow_private_addresses,
            http=http,
        ),
        policy=policy,
        concurrency=concurrency,
    )
    return WebhookDispatcher(
        dispatch, poll_seconds=poll_seconds, stop_grace_seconds=stop_grace_seconds
    )


def build(settings: Settings) -> Wiring:
    """Wire intake's use cases to its infrastructure; nothing connects yet."""
    link_secret = settings.report_link_secret.get_secret_value()
    if not link_secret:
        raise RuntimeError("set CORROBORATE_REPORT_LINK_SECRET (signs report download links)")
    runtime = ServiceRuntime(
        service=SERVICE,
        settings=settings,
        buckets=(settings.bucket_name(DOCUMENTS),),
        outbox_collections=(COLLECTION, PEOPLE),
    )
    webhooks = Webhooks(
        endpoints=MongoWebhookEndpoints(runtime.collection(ENDPOINTS)),
        deliveries=MongoWebhookDeliveries(runtime.collection(DELIVERIES)),
        keyring=runtime.keyring,
        allow_insecure=settings.webhook_allow_insecure,
    )
    dispatcher = webhook_dispatcher(
        referrals=runtime.collection(COLLECTION),
        endpoints=webhooks.endpoints,
        deliveries=webhooks.deliveries,
        keyring=runtime.keyring,
        policy=RetryPolicy(
            first_delay=timedelta(seconds=settings.webhook_first_retry_seconds),
            max_delay=timedelta(seconds=settings.webhook_max_retry_seconds),
            max_attempts=settings.webhook_max_attempts,
        ),
        poll_seconds=settings.webhook_poll_seconds,
        timeout_seconds=settings.webhook_timeout_seconds,
        allow_private_addresses=settings.webhook_allow_insecure,
    )
    intake = Intake(
        referrals=MongoReferrals(
            runtime.collection(COLLECTION),
            on_events=runtime.relay.notify,
            on_notifications=dispatcher.notify,
        ),
        keyring=runtime.keyring,
        store=runtime.store,
        documents_bucket=settings.bucket_name(DOCUMENTS),
        max_document_bytes=settings.max_document_bytes,
        links=DownloadLinks(
            secret=link_secret.encode(), ttl=timedelta(seconds=settings.report_link_ttl_seconds)
        ),
        reporting_url=settings.reporting_url,
        retention_mode=settings.evidence_retention_mode,
        retention=timedelta(days=settings.evidence_retention_days),
        audit=runtime.audit,
    )
    runtime.subscribe(event_handlers(intake.progress))
    runtime.publishes(*PUBLISHES, "directory.person_changed")
    directory, provider, sign_in, machines = _people(settings, runtime)
    return Wiring(
        runtime=runtime,
        machines=machines,
        intake=intake,
        webhooks=webhooks,
        dispatcher=dispatcher,
        directory=directory,
        provider=provider,
        sign_in=sign_in,
    )


def _people(
    settings: Settings, runtime: ServiceRuntime
) -> tuple[DirectoryService, ProviderClient, WebSignIn | None, MachineCallers | None]:
    """The directory, and those it admits: people signing in to the pages, partners' systems
    calling with the provider's access tokens (where a provider is configured)."""
    directory = DirectoryService(
        MongoDirectory(
            runtime.collection(ORGANISATIONS),
            runtime.collection(PEOPLE),
            runtime.collection(CLIENTS),
            on_events=runtime.relay.notify,
        ),
        audit=runtime.audit,
    )
    provider = ProviderClient()
    sign_in = web_sign_in(
        settings,
        service=SERVICE,
        runtime=runtime,
        directory=directory,
        client=provider,
    )
    machines = None
    if settings.oidc_issuer:
        keys = (
            sign_in.relying_party.keys
            if sign_in
            else ProviderKeys(settings.oidc_issuer, provider.http)
        )
        machines = MachineCallers(
            AccessTokens(keys, audience=settings.oidc_api_audience, scope=settings.oidc_api_scope),
            directory.client_caller,
        )
    return directory, provider, sign_in, machines


def _prepare(wiring: Wiring) -> Callable[[], Awaitable[None]]:
    async def prepare() -> None:
        await wiring.intake.prepare()
        await wiring.directory.prepare()
        if wiring.sign_in is not None:
            await wiring.sign_in.sessions.prepare()

    return prepare


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(service=SERVICE, level=settings.log_level)
    wiring = build(settings)
    app = service_app(
        runtime=wiring.runtime,
        title=TITLE,
        version=VERSION,
        summary="Referral partners submit referrals and evidence, and follow their cases.",
        prepare=_prepare(wiring),
        router=ROUTERS,
        state={
            "intake": wiring.intake,
            "webhooks": wiring.webhooks,
            "webhook_dispatcher": wiring.dispatcher,
            "directory": wiring.directory,
            **({"provider_caller": wiring.machines} if wiring.machines else {}),
        },
        workers=[wiring.dispatcher, wiring.provider],
    )
    answer_errors(app, ERRORS)
    add_components(app, REFERRAL_COMPONENTS)
    if wiring.sign_in is not None:
        install_pages(
            app,
            service=SERVICE,
            title="Corroborate for referral partners",
            sign_in=wiring.sign_in,
            urls=portal_urls(settings),
            templates=(pages.TEMPLATES,),
            home=pages.home_sections,
            landing=pages.landing,
            pages=pages.ROUTERS,
        )
    return app


def create_asyncapi_app(settings: Settings | None = None) -> FastStream:
    """For ``faststream docs gen --factory intake.bootstrap:create_asyncapi_app``."""
    wiring = build(settings or load_settings())
    return wiring.runtime.asyncapi_app(title=TITLE, version=VERSION)
