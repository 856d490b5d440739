"""The servers a run needs, started and stopped through the project's own scripts.

Infrastructure comes from ``deploy/local/stack.sh`` and the three services from
``deploy/local/services.sh``, in a state folder, on ports and in a namespace of the run's own;
whatever the run started is stopped at the end, by the PIDs the scripts recorded. The scripts
run in a session of their own, so a Ctrl-C at the terminal reaches only the benchmark, which
then stops the servers in order (services, then the namespace's data, then infrastructure).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import aio_pika
from minio.deleteobjects import DeleteObject
from pymongo import AsyncMongoClient

from bench.raw import s3_client
from corroborate.access import revoke
from corroborate.events.contracts import CASE_EVENTS
from corroborate.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("intake", "review", "reporting")
KEEP = ("CORROBORATE_AMQP_URL",)  # the only inherited setting a run honours


class StackError(Exception):
    """The servers could not be started as the run needs them."""


@dataclass(frozen=True)
class Ports:
    mongo: int = 27057
    s3: int = 9040
    weed_base: int = 9733
    intake: int = 8101
    review: int = 8102
    reporting: int = 8103


@dataclass(frozen=True)
class BenchStack:
    state_dir: Path
    namespace: str
    ports: Ports
    max_document_bytes: int

    @property
    def env_file(self) -> Path:
        return self.state_dir / "corroborate.env"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{getattr(self.ports, service)}"

    def environment(self) -> dict[str, str]:
        """What the scripts, the services and this process read: nothing inherited but the
        broker's URL, so a shell that sourced another stack's env file cannot mix them."""
        inherited = {
            k: v for k, v in os.environ.items() if not k.startswith("CORROBORATE_") or k in KEEP
        }
        return {
            **inherited,
            "CORROBORATE_STATE_DIR": str(self.state_dir),
            "CORROBORATE_ENV_FILE": str(self.env_file),
            "CORROBORATE_MONGO_PORT": str(self.ports.mongo),
            "CORROBORATE_S3_PORT": str(self.ports.s3),
            "CORROBORATE_WEED_PORT_BASE": str(self.ports.weed_base),
            "CORROBORATE_INTAKE_PORT": str(self.ports.intake),
            "CORROBORATE_REVIEW_PORT": str(self.ports.review),
            "CORROBORATE_REPORTING_PORT": str(self.ports.reporting),
            "CORROBORATE_INTAKE_URL": self.url("intake"),
            "CORROBORATE_REVIEW_URL": self.url("review"),
            "CORROBORATE_REPORTING_URL": self.url("reporting"),
            "CORROBORATE_NAMESPACE": self.namespace,
            "CORROBORATE_EVIDENCE_RETENTION_MODE": "GOVERNANCE",
            "CORROBORATE_EVIDENCE_RETENTION_DAYS": "1",
            "CORROBORATE_WEBHOOK_ALLOW_INSECURE": "true",
            "CORROBORATE_LOG_LEVEL": "WARNING",
            "CORROBORATE_MAX_DOCUMENT_BYTES": str(self.max_document_bytes),
        }

    def settings(self) -> Settings:
        """Settings as the services see them (the env file fills in what is not set here)."""
        return Settings(
            _env_file=str(self.env_file),
            namespace=self.namespace,
            evidence_retention_mode="GOVERNANCE",
            evidence_retention_days=1,
            max_document_bytes=self.max_document_bytes,
            intake_url=self.url("intake"),
            review_url=self.url("review"),
            reporting_url=self.url("reporting"),
        )

    def mongo_url(self) -> str:
        """The database URL the services use ("" before the env file exists)."""
        if not self.env_file.exists():
            return ""
        return self.settings().mongo_url.get_secret_value()

    def _script(self, name: str, action: str, *, check: bool = True) -> str:
        done = subprocess.run(  # the project's own scripts, in a session of their own
            ["/bin/bash", str(ROOT / "deploy/local" / f"{name}.sh"), action],
            env=self.environment(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            start_new_session=True,
            check=False,
        )
        if check and done.returncode != 0:
            raise StackError(f"{name}.sh {action} failed:\n{done.stdout}{done.stderr}")
        return done.stdout + done.stderr

    def running(self, name: str) -> list[str]:
        """What ``<name>.sh status`` says is running in this state folder."""
        return [
            line.split(":")[0]
            for line in self._script(name, "status", check=False).splitlines()
            if ": running" in line
        ]

    def start_infrastructure(self) -> None:
        """Start broker, database and S3 (a broker that answers is reused, as the script does)."""
        self._script("stack", "start")

    def start_services(self) -> None:
        if self.running("services"):
            raise StackError(
                f"services from an earlier run still run in {self.state_dir}; stop them with\n"
                f"  CORROBORATE_STATE_DIR={self.state_dir} CORROBORATE_INTAKE_PORT="
                f"{self.ports.intake} CORROBORATE_REVIEW_PORT={self.ports.review} "
                f"CORROBORATE_REPORTING_PORT={self.ports.reporting} "
                "bash deploy/local/services.sh stop"
            )
        self._script("services", "start")

    def stop_services(self) -> str:
        return self._script("services", "stop", check=False)

    def stop_infrastructure(self) -> str:
        return self._script("stack", "stop", check=False)

    def pids(self) -> dict[str, int]:
        found = {}
        for service in SERVICES:
            with suppress(OSError, ValueError):
                found[service] = int((self.state_dir / "pids" / f"{service}.pid").read_text())
        return found


@contextmanager
def ignoring_interrupts() -> Iterator[None]:
    """Let the clean-up finish even if Ctrl-C is pressed again."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def rss_mib(pid: int) -> float:
    """Resident memory of a process (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ProcessLookupError(pid)


async def remove_namespace(settings: Settings) -> list[str]:
    """Delete the queues, exchanges, databases and buckets of the run's namespace; return
    what could not be removed."""
    prefix = settings.namespace
    problems: list[str] = []
    try:
        await revoke(settings)  # the services' rights on this namespace's databases
    except Exception as exc:
        problems.append(f"database rights: {exc}")
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value(), serverSelectionTimeoutMS=5_000, timeoutMS=60_000
    )
    try:
        for name in await client.list_database_names():
            if name.startswith(f"{prefix.replace('-', '_')}_"):
                await client.drop_database(name)
    except Exception as exc:  # reported, and the rest still cleaned
        problems.append(f"databases: {exc}")
    finally:
        await client.close()
    try:
        await asyncio.to_thread(_remove_buckets, settings)
    except Exception as exc:
        problems.append(f"buckets: {exc}")
    try:
        await _remove_queues(settings)
    except Exception as exc:
        problems.append(f"queues: {exc}")
    return problems


def _remove_buckets(settings: Settings) -> None:
    s3 = s3_client(settings)
    for bucket in s3.list_buckets():
        if not bucket.name.endswith(f"-{settings.namespace}"):
            continue
        objects = [
            DeleteObject(name=o.object_name or "", version_id=o.version_id)
            for o in s3.list_objects(bucket_name=bucket.name, recursive=True, include_version=True)
        ]
        # Evidence and reports are locked in governance mode for a day; the run may lift that.
        for error in s3.remove_objects(
            bucket_name=bucket.name, delete_object_list=objects, bypass_governance_mode=True
        ):
            raise RuntimeError(f"{bucket.name}: {error}")
        s3.remove_bucket(bucket_name=bucket.name)


async def _remove_queues(settings: Settings) -> None:
    prefix = settings.namespace
    names = [
        f"{prefix}.{service}.{suffix}"
        for service in SERVICES
        for suffix in (*CASE_EVENTS.event_types, "parking")
    ] + [f"{prefix}.bench.raw"]
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel()
        for name in names:
            try:
                await channel.queue_delete(name)
            except aio_pika.exceptions.AMQPError:
                channel = await connection.channel()  # a failed delete closes the channel
        for exchange in ("case-events", "dead-letter"):
            with suppress(aio_pika.exceptions.AMQPError):
                await channel.exchange_delete(f"{prefix}.{exchange}")


STALE = re.compile(r"^(bench[0-9a-f]{8})_|-(bench[0-9a-f]{8})$")  # databases, buckets


async def remove_stale(settings: Settings) -> list[str]:
    """Remove what earlier, interrupted runs left in this stack (their databases and buckets,
    and the queues of those namespaces); return the namespaces removed."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value(), serverSelectionTimeoutMS=5_000, timeoutMS=60_000
    )
    try:
        names = set(await client.list_database_names())
    finally:
        await client.close()
    names |= {b.name for b in await asyncio.to_thread(s3_client(settings).list_buckets)}
    found = (STALE.search(n) for n in names)
    stale = {m.group(1) or m.group(2) for m in found if m} - {settings.namespace}
    for namespace in sorted(stale):
        await remove_namespace(settings.model_copy(update={"namespace": namespace}))
    return sorted(stale)
