"""Intake's composition root: builds the clients, wires the use cases, serves HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from corroborate.http import health_router, install_common
from corroborate.logging import configure_logging
from corroborate.runtime import ServiceRuntime
from corroborate.settings import Settings, load_settings
from intake.adapters.repository import COLLECTION, ReferralRepository
from intake.entrypoints.events import event_handlers
from intake.entrypoints.http import build_router
from intake.service import Intake

SERVICE = "intake"
DOCUMENTS = "intake-documents"
MAX_DOCUMENT_BYTES = 200 * 1024 * 1024


def build_runtime(settings: Settings) -> tuple[ServiceRuntime, Intake]:
    runtime = ServiceRuntime(
        service=SERVICE,
        settings=settings,
        buckets=(settings.bucket_name(DOCUMENTS),),
        outbox_collections=(COLLECTION,),
    )
    repository = ReferralRepository(runtime.collection(COLLECTION), on_events=runtime.relay.notify)
    intake = Intake(
        referrals=repository,
        keyring=runtime.keyring,
        store=runtime.store,
        documents_bucket=settings.bucket_name(DOCUMENTS),
        max_document_bytes=MAX_DOCUMENT_BYTES,
    )
    runtime.subscribe(event_handlers(intake))
    return runtime, intake


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(service=SERVICE, level=settings.log_level)
    runtime, intake = build_runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await intake.prepare()
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="Corroborate intake",
        version="0.1.0",
        summary="Referral partners submit referrals and evidence, and follow their cases.",
        lifespan=lifespan,
    )
    app.state.token_verifier = runtime.verifier
    app.state.intake = intake
    app.state.runtime = runtime
    install_common(app)
    app.include_router(health_router(runtime.readiness_checks))
    app.include_router(build_router(reporting_url=settings.reporting_url))
    return app
