"""Reporting's composition root: builds the clients, wires the use cases, serves HTTP."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from faststream import FastStream

from corroborate.links import DownloadLinks
from corroborate.logging import configure_logging
from corroborate.runtime import ServiceRuntime, service_app
from corroborate.settings import Settings, load_settings
from reporting.adapters.operations import COLLECTION as DEADLINES
from reporting.adapters.operations import WITHDRAWN, DeadlineLog, WithdrawnCases
from reporting.adapters.repository import COLLECTION, LegalReviewRepository
from reporting.adapters.statistics import (
    OPERATIONS,
    PATTERN_SEQUENCE,
    PATTERN_TABLES,
    PATTERNS,
    OperationsProjection,
    PatternProjection,
)
from reporting.entrypoints.events import event_handlers
from reporting.entrypoints.http import build_router
from reporting.entrypoints.statistics_http import build_statistics_router
from reporting.service import Reporting
from reporting.statistics_service import Statistics

SERVICE = "reporting"
TITLE = "Corroborate reporting"
VERSION = "0.1.0"
REPORTS = "reports"


def build(settings: Settings) -> tuple[ServiceRuntime, Reporting, Statistics]:
    """Wire reporting's use cases to its infrastructure; nothing connects yet."""
    link_secret = settings.report_link_secret.get_secret_value()
    if not link_secret:
        raise RuntimeError("set CORROBORATE_REPORT_LINK_SECRET")
    runtime = ServiceRuntime(
        service=SERVICE,
        settings=settings,
        buckets=(settings.bucket_name(REPORTS),),
        outbox_collections=(COLLECTION,),
    )
    reporting = Reporting(
        reviews=LegalReviewRepository(
            runtime.collection(COLLECTION), on_events=runtime.relay.notify
        ),
        deadlines=DeadlineLog(runtime.collection(DEADLINES)),
        withdrawn=WithdrawnCases(runtime.collection(WITHDRAWN)),
        retention_mode=settings.evidence_retention_mode,
        retention=timedelta(days=settings.evidence_retention_days),
        audit=runtime.audit,
        keyring=runtime.keyring,
        store=runtime.store,
        reports_bucket=settings.bucket_name(REPORTS),
        links=DownloadLinks(
            secret=link_secret.encode(), ttl=timedelta(seconds=settings.report_link_ttl_seconds)
        ),
    )
    statistics = Statistics(
        patterns=PatternProjection(
            runtime.collection(PATTERNS),
            runtime.collection(PATTERN_TABLES),
            runtime.collection(PATTERN_SEQUENCE),
        ),
        operations=OperationsProjection(runtime.collection(OPERATIONS)),
        keyring=runtime.keyring,
        threshold=settings.statistics_threshold,
        base=settings.statistics_rounding_base,
        audit=runtime.audit,
    )
    runtime.subscribe(event_handlers(reporting, statistics))
    runtime.publishes("report.issued", "report.changes_requested")
    return runtime, reporting, statistics


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(service=SERVICE, level=settings.log_level)
    runtime, reporting, statistics = build(settings)

    async def prepare() -> None:
        await reporting.prepare()
        await statistics.prepare()

    return service_app(
        runtime=runtime,
        title=TITLE,
        version=VERSION,
        summary="Legal sign-off, the medico-legal report and its download, and statistics.",
        prepare=prepare,
        router=[build_router(public_url=settings.reporting_url), build_statistics_router()],
        state={"reporting": reporting, "statistics": statistics},
    )


def create_asyncapi_app(settings: Settings | None = None) -> FastStream:
    """For ``faststream docs gen --factory reporting.bootstrap:create_asyncapi_app``."""
    runtime, _, _ = build(settings or load_settings())
    return runtime.asyncapi_app(title=TITLE, version=VERSION)
