"""Every operation of every service, fuzzed from its own OpenAPI document with schemathesis
against the running services: no 5xx, and every response as documented (status, content type,
body schema). Each request carries a valid token for the role the operation is for."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from corroborate.auth import Role
from corroborate_testing import Stack

pytestmark = pytest.mark.fuzz

CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts"
EXAMPLES = int(os.environ.get("CORROBORATE_FUZZ_EXAMPLES", "40"))  # per operation
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases every run: a failure here is never a fluke
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# What every response must satisfy: no server error; a documented status; the documented
# content type, headers and body schema.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Who an operation is for, by service and path prefix (the access table says it in full).
ROLES: list[tuple[str, str, Role]] = [
    ("intake", "/organisations/", Role.ADMIN),
    ("intake", "/directory/", Role.ADMIN),
    ("intake", "/cases/", Role.ADMIN),
    ("intake", "/", Role.PARTNER),
    ("review", "/roster", Role.COORDINATOR),
    ("review", "/triage", Role.COORDINATOR),
    ("review", "/at-risk", Role.COORDINATOR),
    ("review", "/peer-review", Role.SENIOR_CLINICIAN),
    ("review", "/cases/{case_id}/peer-review", Role.SENIOR_CLINICIAN),
    ("review", "/cases/{case_id}/decision", Role.COORDINATOR),
    ("review", "/cases/{case_id}/assignment", Role.COORDINATOR),
    ("review", "/cases/{case_id}/suggestions", Role.COORDINATOR),
    ("review", "/cases/{case_id}/appointments/", Role.CLINICIAN),
    ("review", "/cases/{case_id}/appointments", Role.COORDINATOR),
    ("review", "/", Role.CLINICIAN),
    ("reporting", "/legal-reviews", Role.LEGAL),
    ("reporting", "/statistics/operations", Role.ADMIN),
    ("reporting", "/statistics", Role.ANALYST),
    ("reporting", "/", Role.PARTNER),
]


CALLS: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def _report_calls() -> Iterator[None]:
    yield
    print(f"fuzzed: {sum(CALLS.values())} requests over {len(CALLS)} operations")


def _role(service: str, path: str) -> Role:
    return next(role for s, prefix, role in ROLES if s == service and path.startswith(prefix))


def _fuzz(service: str) -> Callable[..., Any]:
    schema = schemathesis.openapi.from_path(CONTRACTS / f"{service}.openapi.json")

    @schema.parametrize()
    @SETTINGS
    def test(case: Any, stack: Stack, bearer: Callable[..., dict[str, str]]) -> None:
        operation = f"{service} {case.operation.label}"
        CALLS[operation] = CALLS.get(operation, 0) + 1
        role = _role(service, case.operation.path)
        headers = bearer(role, org="fuzz-solicitors", sub=f"fuzz-{role.value}")
        case.call_and_validate(
            base_url=getattr(stack.settings, f"{service}_url"), headers=headers, checks=CHECKS
        )

    result: Callable[..., Any] = test
    return result


test_intake = _fuzz("intake")
test_review = _fuzz("review")
test_reporting = _fuzz("reporting")
