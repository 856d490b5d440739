"""Reporting's composition root: builds the clients, wires the use cases, serves HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI
from faststream import FastStream

from corroborate.http import answer_errors
from corroborate.links import DownloadLinks
from corroborate.logging import configure_logging
from corroborate.runtime import ServiceRuntime, service_app
from corroborate.settings import Settings, load_settings
from corroborate.web.app import (
    ProviderClient,
    copied_directory_sign_in,
    install_pages,
    portal_urls,
)
from corroborate.web.directory_copy import DirectoryCopy
from corroborate.web.signin import WebSignIn
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
from reporting.entrypoints.api.errors import ERRORS
from reporting.entrypoints.api.routes import legal_reviews, operations, reports, statistics
from reporting.entrypoints.events import event_handlers
from reporting.entrypoints.pages import home_sections
from reporting.service.issuing import Issuing, Retention
from reporting.service.legal_review import LegalQueue
from reporting.service.statistics import Statistics

SERVICE = "reporting"
TITLE = "Corroborate reporting"
VERSION = "0.1.0"
REPORTS = "reports"


@dataclass(frozen=True)
class UseCases:
    legal_queue: LegalQueue
    issuing: Issuing
    statistics: Statistics
    staff: DirectoryCopy
    sign_in: WebSignIn | None

    async def prepare(self) -> None:
        await self.legal_queue.prepare()
        await self.issuing.prepare()
        await self.statistics.prepare()
        await self.staff.prepare()
        if self.sign_in is not None:
            await self.sign_in.sessions.prepare()


@dataclass(frozen=True)
class Wiring:
    runtime: ServiceRuntime
    use_cases: UseCases
    provider: ProviderClient


def build(settings: Settings) -> Wiring:
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
    reviews = LegalReviewRepository(runtime.collection(COLLECTION), on_events=runtime.relay.notify)
    people = copied_directory_sign_in(settings, service=SERVICE, runtime=runtime)
    use_cases = UseCases(
        legal_queue=LegalQueue(
            reviews=reviews,
            keyring=runtime.keyring,
            deadlines=DeadlineLog(runtime.collection(DEADLINES)),
            withdrawn=WithdrawnCases(runtime.collection(WITHDRAWN)),
            audit=runtime.audit,
        ),
        issuing=Issuing(
            reviews=reviews,
            keyring=runtime.keyring,
            store=runtime.store,
            reports_bucket=settings.bucket_name(REPORTS),
            retention=Retention(
                mode=settings.evidence_retention_mode,
                period=timedelta(days=settings.evidence_retention_days),
            ),
            links=DownloadLinks(
                secret=link_secret.encode(),
                ttl=timedelta(seconds=settings.report_link_ttl_seconds),
            ),
            public_url=settings.reporting_url,
            audit=runtime.audit,
        ),
        statistics=Statistics(
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
        ),
        staff=people.staff,
        sign_in=people.sign_in,
    )
    runtime.subscribe(event_handlers(use_cases.legal_queue, use_cases.statistics, people.staff))
    runtime.publishes("report.issued", "report.changes_requested")
    return Wiring(runtime=runtime, use_cases=use_cases, provider=people.provider)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(service=SERVICE, level=settings.log_level)
    wiring = build(settings)
    use_cases = wiring.use_cases
    app = service_app(
        runtime=wiring.runtime,
        title=TITLE,
        version=VERSION,
        summary="Legal sign-off, the medico-legal report and its download, and statistics.",
        prepare=use_cases.prepare,
        router=[legal_reviews.router, reports.router, statistics.router, operations.router],
        state={
            "legal_queue": use_cases.legal_queue,
            "issuing": use_cases.issuing,
            "statistics": use_cases.statistics,
        },
        workers=[wiring.provider],
    )
    answer_errors(app, ERRORS)
    if use_cases.sign_in is not None:
        install_pages(
            app,
            service=SERVICE,
            title="Corroborate for legal, analysis and management",
            sign_in=use_cases.sign_in,
            urls=portal_urls(settings),
            home=home_sections(use_cases.legal_queue),
        )
    return app


def create_asyncapi_app(settings: Settings | None = None) -> FastStream:
    """For ``faststream docs gen --factory reporting.bootstrap:create_asyncapi_app``."""
    wiring = build(settings or load_settings())
    return wiring.runtime.asyncapi_app(title=TITLE, version=VERSION)
