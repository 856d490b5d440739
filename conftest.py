"""Fixtures shared by every test: settings for an isolated namespace on the real servers.

The test command (deploy/local/test.sh) starts RabbitMQ, SecantusDB and SeaweedFS and points
``CORROBORATE_ENV_FILE`` at their settings. Each pytest session gets its own namespace, so its
exchange, queues, databases and buckets are its own, and removes them when it ends; before it
makes any, it sweeps what earlier runs that died left (corroborate_testing.leftovers). Services
under test run with their own, least-privileged credentials, as deployed.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from corroborate.access import grant
from corroborate.auth import Role, issue_token
from corroborate.crypto import KeyRing
from corroborate.settings import Settings
from corroborate_testing import new_namespace, remove_namespace, sweep_dead_runs

TokenFactory = Callable[..., str]


@pytest.fixture(scope="session")
def settings(request: pytest.FixtureRequest) -> Iterator[Settings]:
    env_file = os.environ.get("CORROBORATE_ENV_FILE", ".local/test/corroborate.env")
    if not Path(env_file).is_file():
        pytest.fail(
            f"{env_file} not found: run the suite with deploy/local/test.sh (make test), "
            "which starts the real servers"
        )
    namespace = new_namespace()  # t<UTC start><p pid><r random>: whose, and since when
    # Evidence is locked in governance mode here, so the run can delete what it stored; a
    # deployment locks it in compliance mode, which nobody can lift.
    configured = Settings(
        _env_file=env_file,
        namespace=namespace,
        evidence_retention_mode="GOVERNANCE",
        evidence_retention_days=1,
        webhook_allow_insecure=True,
    )
    _tell(request.config, asyncio.run(sweep_dead_runs(configured)).lines())
    # Services run with their own credentials (corroborate.access.service_settings), limited
    # to their own database, bucket and queues: granted here for this namespace.
    asyncio.run(grant(configured))
    yield configured
    asyncio.run(remove_namespace(configured))


def _tell(config: pytest.Config, lines: list[str]) -> None:
    """Write to the terminal now, past the output capture of the test being set up."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if capture is None or reporter is None:  # pytest run without them: never silent
        sys.stderr.write("".join(f"[leftovers] {line}\n" for line in lines))
        return
    with capture.global_and_fixture_disabled():
        if config.get_verbosity() < 0:  # -q: a line of dots the reporter does not end itself
            reporter.write("\n")
        for line in lines:
            reporter.write_line(f"[leftovers] {line}")


@pytest.fixture(scope="session")
def keyring(settings: Settings) -> KeyRing:
    return settings.keyring()


@pytest.fixture(scope="session")
def make_token(settings: Settings) -> TokenFactory:
    """Sign a token as the local issuer would: ``make_token(Role.PARTNER, org="a")``."""
    assert settings.auth_private_key_file is not None
    private_key = settings.auth_private_key_file.read_text(encoding="utf-8")

    def make(
        role: Role,
        *,
        org: str | None = None,
        sub: str | None = None,
        audiences: list[str] | None = None,
        ttl_seconds: int = 600,
    ) -> str:
        return issue_token(
            private_key_pem=private_key,
            issuer=settings.auth_issuer,
            subject=sub or f"{role.value}-test",
            role=role,
            organisation=org,
            audiences=audiences,
            ttl_seconds=ttl_seconds,
        )

    return make


@pytest.fixture(scope="session")
def bearer(make_token: TokenFactory) -> Callable[..., dict[str, str]]:
    """Authorization headers: ``bearer(Role.CLINICIAN, sub="dr-1")``."""

    def headers(role: Role, **claims: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_token(role, **claims)}"}

    return headers


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is a test that did not run: the suite fails rather than pass quietly."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter is not None else 0
    xfailed = len(reporter.stats.get("xfailed", [])) if reporter is not None else 0
    if (skipped or xfailed) and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(
                f"FAILED: {skipped} skipped and {xfailed} xfailed test(s); every test must run",
                red=True,
            )
