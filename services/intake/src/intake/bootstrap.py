"""Intake's composition root: builds the clients, wires the use cases, serves HTTP."""

from __future__ import annotations

from fastapi import FastAPI
from faststream import FastStream

from corroborate.logging import configure_logging
from corroborate.runtime import ServiceRuntime, service_app
from corroborate.settings import Settings, load_settings
from intake.adapters.repository import COLLECTION, ReferralRepository
from intake.entrypoints.events import event_handlers
from intake.entrypoints.http import build_router
from intake.service import Intake

SERVICE = "intake"
TITLE = "Corroborate intake"
VERSION = "0.1.0"
DOCUMENTS = "intake-documents"
MAX_DOCUMENT_BYTES = 200 * 1024 * 1024


def build(settings: Settings) -> tuple[ServiceRuntime, Intake]:
    """Wire intake's use cases to its infrastructure; nothing connects yet."""
    runtime = ServiceRuntime(
        service=SERVICE,
        settings=settings,
        buckets=(settings.bucket_name(DOCUMENTS),),
        outbox_collections=(COLLECTION,),
    )
    intake = Intake(
        referrals=ReferralRepository(
            runtime.collection(COLLECTION), on_events=runtime.relay.notify
        ),
        keyring=runtime.keyring,
        store=runtime.store,
        documents_bucket=settings.bucket_name(DOCUMENTS),
        max_document_bytes=MAX_DOCUMENT_BYTES,
    )
    runtime.subscribe(event_handlers(intake))
    runtime.publishes("referral.submitted")
    return runtime, intake


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(service=SERVICE, level=settings.log_level)
    runtime, intake = build(settings)
    return service_app(
        runtime=runtime,
        title=TITLE,
        version=VERSION,
        summary="Referral partners submit referrals and evidence, and follow their cases.",
        prepare=intake.prepare,
        router=build_router(reporting_url=settings.reporting_url),
        state={"intake": intake},
    )


def create_asyncapi_app(settings: Settings | None = None) -> FastStream:
    """For ``faststream docs gen --factory intake.bootstrap:create_asyncapi_app``."""
    runtime, _ = build(settings or load_settings())
    return runtime.asyncapi_app(title=TITLE, version=VERSION)
