"""What test namespaces leave on the servers, found by name and removed: a run's own at its end
(``remove_namespace``), and at the start of a run whatever earlier runs that died left behind
(``sweep_dead_runs``).

The broker cannot list its queues over AMQP: its management HTTP API is asked if it answers
(port 15672, the AMQP URL's credentials), otherwise ``rabbitmqctl`` (talking to the node
``deploy/local/stack.sh`` started for that port if there is one, as its ``rabbit_node_args``
does, else to the machine's own). Deleting goes over AMQP.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import SplitResult, quote, unquote, urlsplit

import aio_pika
import httpx
from minio.deleteobjects import DeleteObject

from corroborate.access import SERVICES
from corroborate.events.contracts import CASE_EVENTS
from corroborate.mongo import mongo_client
from corroborate.settings import Settings
from corroborate.storage import minio_client
from corroborate_testing.namespaces import PATTERN, RunNamespace

MANAGEMENT_PORT = 15672
_LISTS = ("queues", "exchanges")
_EXCHANGES = ("case-events", "dead-letter")


@dataclass(frozen=True)
class Grant:
    """A role a database user holds on one database (``corroborate.access.grant`` gives each
    service ``readWrite`` on its database of a namespace)."""

    user: str
    role: str
    database: str


@dataclass
class Names:
    """Queues, exchanges, databases, buckets and database grants, by name."""

    queues: list[str] = field(default_factory=list)
    exchanges: list[str] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)

    def owned_by(self, namespaces: set[str]) -> Names:
        """The names formed from one of these namespaces (``corroborate.settings`` and
        ``corroborate.messaging.topology`` say how)."""
        dots = tuple(f"{ns}." for ns in namespaces)
        databases = tuple(f"{ns.replace('-', '_')}_" for ns in namespaces)
        buckets = tuple(f"-{ns}" for ns in namespaces)
        return Names(
            queues=[n for n in self.queues if n.startswith(dots)],
            exchanges=[n for n in self.exchanges if n.startswith(dots)],
            databases=[n for n in self.databases if n.startswith(databases)],
            buckets=[n for n in self.buckets if n.endswith(buckets)],
            grants=[g for g in self.grants if g.database.startswith(databases)],
        )

    def counts(self) -> str:
        kinds: dict[str, list[str] | list[Grant]] = {
            "queues": self.queues,
            "exchanges": self.exchanges,
            "databases": self.databases,
            "buckets": self.buckets,
            "database grants": self.grants,
        }
        return ", ".join(f"{len(names)} {kind}" for kind, names in kinds.items())


@dataclass
class Inventory:
    """Everything on the servers now; ``broker_listed`` False where the broker's queues and
    exchanges could not be listed (and so are missing here)."""

    names: Names
    broker_listed: bool

    def test_namespaces(self) -> set[str]:
        """Every recognisably test-suite namespace something here is named for."""
        n = self.names
        found = (
            [re.match(rf"({PATTERN})\.", name) for name in n.queues + n.exchanges]
            + [re.match(rf"({PATTERN})_", name) for name in n.databases]
            + [re.search(rf"-({PATTERN})$", name) for name in n.buckets]
            + [re.match(rf"({PATTERN})_", g.database) for g in n.grants]
        )
        return {m.group(1) for m in found if m}


async def take_inventory(settings: Settings) -> Inventory:
    """List the broker, the database server and the object store the settings reach."""
    broker = await list_broker(settings)
    client = mongo_client(settings)
    try:
        databases = await client.list_database_names()
        users = (await client["admin"].command("usersInfo"))["users"]
    finally:
        await client.close()
    grants = [Grant(u["user"], r["role"], r["db"]) for u in users for r in u["roles"]]
    s3 = minio_client(settings)
    buckets = [b.name for b in await asyncio.to_thread(s3.list_buckets)]
    queues, exchanges = broker or ([], [])
    return Inventory(
        names=Names(
            queues=queues,
            exchanges=exchanges,
            databases=databases,
            buckets=buckets,
            grants=grants,
        ),
        broker_listed=broker is not None,
    )


# The broker's names -------------------------------------------------------------------------


async def list_broker(
    settings: Settings, *, management_port: int = MANAGEMENT_PORT, rabbitmqctl: str = "rabbitmqctl"
) -> tuple[list[str], list[str]] | None:
    """The broker's queue and exchange names in the AMQP URL's virtual host, or None if
    neither its management API nor ``rabbitmqctl`` answers."""
    url = urlsplit(settings.amqp_url.get_secret_value())
    vhost = unquote(url.path[1:]) if len(url.path) > 1 else "/"
    listed = await _list_by_management_api(url, management_port, vhost)
    if listed is None:
        listed = await _list_by_rabbitmqctl(rabbitmqctl, url.port or 5672, vhost)
    return listed


async def _list_by_management_api(
    url: SplitResult, port: int, vhost: str
) -> tuple[list[str], list[str]] | None:
    auth = (unquote(url.username or "guest"), unquote(url.password or "guest"))
    base = f"http://{url.hostname or '127.0.0.1'}:{port}/api"
    found = []
    try:
        async with httpx.AsyncClient(auth=auth, timeout=5.0) as http:
            for kind in _LISTS:
                answer = await http.get(f"{base}/{kind}/{quote(vhost, safe='')}?columns=name")
                if answer.status_code != 200:
                    return None
                found.append([str(item["name"]) for item in answer.json()])
    except httpx.HTTPError:
        return None
    return found[0], found[1]


async def _list_by_rabbitmqctl(
    program: str, amqp_port: int, vhost: str
) -> tuple[list[str], list[str]] | None:
    command = shutil.which(program)
    if command is None:
        return None
    node = await _stack_node(amqp_port)
    queues, exchanges = await asyncio.gather(
        *(_rabbitmqctl(command, *node, f"list_{kind}", "-p", vhost, "name") for kind in _LISTS)
    )
    if queues is None or exchanges is None:
        return None
    return queues, exchanges


async def _stack_node(amqp_port: int) -> list[str]:
    """``-n corroborate-<port>@localhost`` if a local stack started the broker on that port."""
    epmd = shutil.which("epmd")
    if epmd is None:
        return []
    names = await _run(epmd, "-names")
    wanted = f"name corroborate-{amqp_port} "
    if names is not None and any(line.startswith(wanted) for line in names.splitlines()):
        return ["-n", f"corroborate-{amqp_port}@localhost"]
    return []


async def _rabbitmqctl(command: str, *arguments: str) -> list[str] | None:
    out = await _run(command, "-q", "--no-table-headers", *arguments, within=60.0)
    return None if out is None else [line for line in out.splitlines() if line.strip()]


async def _run(*command: str, within: float = 10.0) -> str | None:
    """A command's output, or None if it failed or did not finish ``within`` seconds."""
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout=within)
    except TimeoutError:
        process.kill()
        await process.wait()
        return None
    return out.decode() if process.returncode == 0 else None


# Removing ------------------------------------------------------------------------------------


async def remove(settings: Settings, names: Names) -> list[str]:
    """Revoke the grants, drop the databases, empty and delete the buckets, delete the queues
    and exchanges; return what could not be removed (the rest is removed regardless)."""
    problems = await _revoke_and_drop(settings, names)
    problems += await asyncio.to_thread(_remove_buckets, settings, names.buckets)
    problems += await _remove_from_broker(settings, names)
    return problems


async def _revoke_and_drop(settings: Settings, names: Names) -> list[str]:
    problems = []
    client = mongo_client(settings)
    try:
        for user in sorted({g.user for g in names.grants}):
            roles = [{"role": g.role, "db": g.database} for g in names.grants if g.user == user]
            try:
                await client["admin"].command("revokeRolesFromUser", user, roles=roles)
            except Exception as exc:  # reported, and the rest still removed
                problems.append(f"grants of {user}: {exc}")
        for database in names.databases:
            try:
                await client.drop_database(database)
            except Exception as exc:
                problems.append(f"database {database}: {exc}")
    finally:
        await client.close()
    return problems


def _remove_buckets(settings: Settings, buckets: list[str]) -> list[str]:
    problems = []
    s3 = minio_client(settings)
    for bucket in buckets:
        try:
            objects = [
                DeleteObject(name=o.object_name or "", version_id=o.version_id)
                for o in s3.list_objects(bucket_name=bucket, recursive=True, include_version=True)
            ]
            # Test buckets lock evidence in governance mode, which a cleanup may bypass.
            errors = list(
                s3.remove_objects(
                    bucket_name=bucket, delete_object_list=objects, bypass_governance_mode=True
                )
            )
            if errors:
                problems.append(f"bucket {bucket}: {errors[0]}")
                continue
            s3.remove_bucket(bucket_name=bucket)
        except Exception as exc:
            problems.append(f"bucket {bucket}: {exc}")
    return problems


async def _remove_from_broker(settings: Settings, names: Names) -> list[str]:
    problems = []
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel()
        doomed = [("queue", n) for n in names.queues] + [("exchange", n) for n in names.exchanges]
        for kind, name in doomed:
            delete = channel.queue_delete if kind == "queue" else channel.exchange_delete
            try:
                await delete(name)  # a name already gone is no error
            except aio_pika.exceptions.AMQPError as exc:
                problems.append(f"{kind} {name}: {exc}")
                channel = await connection.channel()  # a refused delete closes the channel
    return problems


# A run's own namespace, at its end -----------------------------------------------------------


async def remove_namespace(settings: Settings) -> None:
    """Delete everything named for the settings' namespace: its queues and exchanges (every
    one the broker lists, or where it cannot be listed the ones the services and tests
    declare), databases, buckets with every object version, and the database grants."""
    inventory = await take_inventory(settings)
    names = inventory.names.owned_by({settings.namespace})
    if not inventory.broker_listed:
        ns = settings.namespace
        names.queues = [
            f"{ns}.{service}.{suffix}"
            for service in (*SERVICES, "test")
            for suffix in (*CASE_EVENTS.event_types, "parking", "spy")
        ]
        names.exchanges = [f"{ns}.{exchange}" for exchange in _EXCHANGES]
    problems = await remove(settings, names)
    if problems:
        # Evidence under a legal hold cannot be deleted even bypassing governance: it is
        # said, and left for the server's own clean-up (the test servers' data is per checkout).
        sys.stderr.write(
            f"[leftovers] {settings.namespace}: {len(problems)} item(s) not removed: "
            f"{problems[0]}\n"
        )


async def remove_buckets(settings: Settings) -> None:
    """Delete the namespace's buckets, every object version in them included."""
    buckets = [b.name for b in await asyncio.to_thread(minio_client(settings).list_buckets)]
    owned = Names(buckets=buckets).owned_by({settings.namespace}).buckets
    problems = await asyncio.to_thread(_remove_buckets, settings, owned)
    if problems:
        raise RuntimeError(f"{settings.namespace} buckets not wholly removed: {problems}")


# Dead runs' namespaces, at the start of a run ------------------------------------------------


@dataclass
class Swept:
    """What a sweep removed, of which runs, and what it could not."""

    runs: list[str]
    removed: Names
    problems: list[str]
    broker_listed: bool

    def lines(self) -> list[str]:
        """One line of what was swept; one more if the broker could not be listed."""
        if self.runs:
            line = f"swept what {len(self.runs)} dead test run(s) left: {self.removed.counts()}"
        else:
            line = "swept nothing: no test run that died left anything on these servers"
        if self.problems:
            line += f"; {len(self.problems)} could not be removed, first {self.problems[0]}"
        lines = [line]
        if not self.broker_listed:
            lines.append(
                "the broker's leftovers could not be listed (no management API on port "
                f"{MANAGEMENT_PORT}, no rabbitmqctl that answers): its queues and exchanges "
                "were not swept"
            )
        return lines


async def sweep_dead_runs(
    settings: Settings, *, now: datetime | None = None, proc: Path = Path("/proc")
) -> Swept:
    """Remove what test runs that died left behind: everything named for a test namespace
    older than the settings' own whose run is no longer alive. Anything not recognisably the
    test suite's (a local stack's ``corroborate``, say) and every live run's is left alone."""
    now = now or datetime.now(UTC)
    this_run = RunNamespace.parse(settings.namespace)
    older_than = this_run.started if this_run is not None else now
    inventory = await take_inventory(settings)
    dead = set()
    for name in inventory.test_namespaces():
        run = RunNamespace.parse(name)
        if run is None or name == settings.namespace or run.started > older_than:
            continue
        if run.dead(now=now, proc=proc):
            dead.add(name)
    names = inventory.names.owned_by(dead)
    problems = await remove(settings, names) if dead else []
    return Swept(
        runs=sorted(dead), removed=names, problems=problems, broker_listed=inventory.broker_listed
    )
