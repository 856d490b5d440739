"""A test run leaves nothing behind: its own namespace goes when it ends, and what a run that
died (killed, timed out) left on the shared broker and the test servers is swept by the next
one, never a live run's nor anything not recognisably the test suite's."""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aio_pika
import pytest
from minio.commonconfig import GOVERNANCE
from minio.retention import Retention
from pydantic import SecretStr

from corroborate.access import BUCKETS, grant, service_settings
from corroborate.messaging.topology import Topology
from corroborate.mongo import mongo_client
from corroborate.settings import Settings
from corroborate.storage import minio_client
from corroborate_testing import (
    eventually,
    new_namespace,
    remove_namespace,
    running,
    sweep_dead_runs,
)
from corroborate_testing.leftovers import Names, Swept, list_broker, take_inventory
from corroborate_testing.namespaces import RunNamespace
from corroborate_testing.servers import RabbitNode, free_port
from intake.bootstrap import create_app as create_intake
from reporting.bootstrap import create_app as create_reporting
from review.bootstrap import create_app as create_review


def _reaped_pid() -> int:
    """The id of a process that ran and is gone (reaped, so not even a zombie)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# Names ---------------------------------------------------------------------------------------


def test_a_namespace_names_this_run_and_fits_every_name_formed_from_it() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    name = new_namespace()
    run = RunNamespace.parse(name)
    assert run is not None
    assert run.pid == os.getpid()
    assert before <= run.started <= datetime.now(UTC)
    longest = new_namespace(pid=4_194_304)  # the largest process id Linux hands out
    assert len(longest) == 26
    settings = Settings(namespace=longest)  # the settings' own pattern accepts it
    bucket = settings.bucket_name(BUCKETS["review"].purpose)
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", bucket)
    assert re.fullmatch(r"[a-z0-9_]{1,63}", settings.database_name("reporting"))
    assert Topology(longest).consumer_queue("intake", "case.erased").name.startswith(f"{longest}.")


def test_names_not_of_the_test_suite_are_not_read_as_a_run() -> None:
    for name in ("corroborate", "t1a2b3c4d", "bench1a2b3c4d", "t261399000000p12r0abc", "firstrun"):
        assert RunNamespace.parse(name) is None, name


# Alive or dead -------------------------------------------------------------------------------


def test_this_run_is_alive_and_a_reaped_or_zombie_process_is_not() -> None:
    assert RunNamespace.parse(new_namespace()).alive() is True  # type: ignore[union-attr]
    reaped = RunNamespace.parse(new_namespace(pid=_reaped_pid()))
    assert reaped is not None
    assert reaped.alive() is False
    assert reaped.dead()
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _ in range(200):  # until it has exited and waits, unreaped, for its parent
            if Path(f"/proc/{zombie.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
            time.sleep(0.05)
        named = RunNamespace.parse(new_namespace(pid=zombie.pid))
        assert named is not None
        assert named.alive() is False
    finally:
        zombie.wait()


def test_a_process_id_reused_by_a_later_program_is_a_dead_run() -> None:
    """This process started after the namespace's time: whoever named it is gone."""
    a_day_ago = datetime.now(UTC) - timedelta(days=1)
    reused = RunNamespace.parse(new_namespace(started=a_day_ago, pid=os.getpid()))
    assert reused is not None
    assert reused.alive() is False


def test_without_a_process_table_only_a_namespace_older_than_any_run_is_dead(
    tmp_path: Path,
) -> None:
    now = datetime.now(UTC)
    recent = RunNamespace.parse(new_namespace(started=now - timedelta(hours=1), pid=1))
    old = RunNamespace.parse(new_namespace(started=now - timedelta(hours=7), pid=1))
    assert recent is not None
    assert old is not None
    assert recent.alive(proc=tmp_path) is None
    assert not recent.dead(now=now, proc=tmp_path)
    assert old.dead(now=now, proc=tmp_path)


# The sweep against the real servers ----------------------------------------------------------


@dataclass
class Made:
    """What a test made for one namespace, by name."""

    namespace: str
    names: Names


async def _make_namespace(settings: Settings, namespace: str) -> Made:
    """A run's footprint: granted (its buckets and database grants), a queue bound to its
    exchange, a database with a record, and evidence locked in governance mode."""
    own = settings.model_copy(update={"namespace": namespace})
    await grant(own)
    topology = Topology(namespace)
    queue = topology.consumer_queue("intake", "referral.submitted").name
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            topology.case_events.name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        declared = await channel.declare_queue(queue, durable=True)
        await declared.bind(exchange, routing_key="referral.submitted")
    database = own.database_name("intake")
    client = mongo_client(settings)
    try:
        await client[database]["referrals"].insert_one({"reference": "CRB-2026-SWEEP1"})
    finally:
        await client.close()
    bucket = own.bucket_name(BUCKETS["intake"].purpose)
    await asyncio.to_thread(
        minio_client(settings).put_object,
        bucket_name=bucket,
        object_name="cases/evidence.pdf",
        data=io.BytesIO(b"%PDF-1.7 locked"),
        length=15,
        retention=Retention(GOVERNANCE, datetime.now(UTC) + timedelta(days=1)),
    )
    inventory = await take_inventory(settings)
    names = inventory.names.owned_by({namespace})
    assert names.queues == [queue]
    assert sorted(names.exchanges) == [topology.case_events.name]
    assert names.databases == [database]
    assert len(names.buckets) == 3
    assert len(names.grants) == 3
    return Made(namespace=namespace, names=names)


def _sorted(names: Names) -> Names:
    return Names(
        queues=sorted(names.queues),
        exchanges=sorted(names.exchanges),
        databases=sorted(names.databases),
        buckets=sorted(names.buckets),
        grants=sorted(names.grants, key=lambda g: (g.user, g.database)),
    )


@pytest.fixture
async def runs(settings: Settings) -> AsyncIterator[dict[str, Made]]:
    """A dead run older than this one, a live one (named for this run's parent process, alive
    and older), and a dead one that started after this run; removed again on the way out."""
    this_run = RunNamespace.parse(settings.namespace)
    assert this_run is not None
    dead_pid = _reaped_pid()
    namespaces = {
        "dead": new_namespace(started=this_run.started - timedelta(minutes=10), pid=dead_pid),
        "live": new_namespace(started=this_run.started, pid=os.getppid()),
        "newer": new_namespace(started=this_run.started + timedelta(hours=1), pid=dead_pid),
    }
    made: dict[str, Made] = {}
    try:
        for role, namespace in namespaces.items():
            made[role] = await _make_namespace(settings, namespace)
        yield made
    finally:
        for namespace in namespaces.values():
            await remove_namespace(settings.model_copy(update={"namespace": namespace}))


@pytest.mark.integration
async def test_the_sweep_removes_a_dead_runs_namespace_and_nothing_of_a_live_one(
    settings: Settings, runs: dict[str, Made]
) -> None:
    foreign = "t1a2b3c4d.intake.referral.submitted"  # an older naming: not recognisably a run
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    async with connection:
        await (await connection.channel()).declare_queue(foreign, auto_delete=True)
        own_before = (await take_inventory(settings)).names.owned_by({settings.namespace})

        swept = await sweep_dead_runs(settings)

        after = await take_inventory(settings)
        assert after.names.queues.count(foreign) == 1
    dead = runs["dead"]
    assert swept.broker_listed
    # Only what this test made is judged: an earlier run's evidence under a legal hold stays.
    assert [p for p in swept.problems if dead.namespace in p] == []
    assert dead.namespace in swept.runs
    assert not {runs["live"].namespace, runs["newer"].namespace, settings.namespace} & set(
        swept.runs
    )
    assert _sorted(swept.removed.owned_by({dead.namespace})) == _sorted(dead.names)
    assert after.names.owned_by({dead.namespace}) == Names()
    for role in ("live", "newer"):
        assert _sorted(after.names.owned_by({runs[role].namespace})) == _sorted(runs[role].names)
    assert _sorted(after.names.owned_by({settings.namespace})) == _sorted(own_before)
    assert swept.lines()[0].startswith(f"swept what {len(swept.runs)} dead test run(s) left: ")


@pytest.mark.integration
async def test_a_broker_that_cannot_be_listed_is_said_so(settings: Settings) -> None:
    closed_port = 1  # nothing listens on tcpmux here
    listed = await list_broker(
        settings, management_port=closed_port, rabbitmqctl="no-such-rabbitmqctl"
    )
    assert listed is None
    lines = Swept(runs=[], removed=Names(), problems=[], broker_listed=False).lines()
    assert lines[0] == "swept nothing: no test run that died left anything on these servers"
    assert lines[1].startswith("the broker's leftovers could not be listed")


# A run's own removal -------------------------------------------------------------------------


@pytest.mark.integration
async def test_a_runs_own_removal_leaves_nothing_named_for_its_namespace(
    settings: Settings,
) -> None:
    """Everything the services declare and create on start, and what a test adds besides."""
    fresh = settings.model_copy(update={"namespace": new_namespace()})
    await grant(fresh)
    apps = {
        "intake": create_intake(service_settings(fresh, "intake")),
        "review": create_review(service_settings(fresh, "review")),
        "reporting": create_reporting(service_settings(fresh, "reporting")),
    }
    async with AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(running(app))
    stray = f"{fresh.namespace}.test.stray-queue"
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    async with connection:
        await (await connection.channel()).declare_queue(stray, durable=True)
    made = (await take_inventory(settings)).names.owned_by({fresh.namespace})
    assert stray in made.queues
    assert len(made.queues) > 20  # every service's queue per event it reads, and parking
    assert len(made.buckets) == 3
    assert len(made.grants) == 3

    await remove_namespace(fresh)

    assert (await take_inventory(settings)).names.owned_by({fresh.namespace}) == Names()


@pytest.mark.integration
async def test_the_brokers_names_are_read_from_its_management_api(
    settings: Settings, tmp_path: Path
) -> None:
    """A broker of this test's own with the management plugin, and no rabbitmqctl to ask."""
    node = RabbitNode(tmp_path / "rabbitmq")
    management_port = free_port()
    (node.directory / "enabled_plugins").write_text("[rabbitmq_management].\n")
    with (node.directory / "rabbitmq.conf").open("a") as conf:
        conf.write(f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {management_port}\n")
    own = settings.model_copy(update={"amqp_url": SecretStr(node.url)})
    queue = f"{new_namespace()}.intake.referral.submitted"
    node.spawn()
    try:
        await node.wait_ready(within=120)
        connection = await aio_pika.connect(node.url)
        async with connection:
            await (await connection.channel()).declare_queue(queue, durable=True)

        async def listed() -> tuple[list[str], list[str]] | None:
            return await list_broker(
                own, management_port=management_port, rabbitmqctl="no-such-rabbitmqctl"
            )

        queues, exchanges = await eventually(listed, within=60, what="the management API")
        assert queue in queues
        assert "amq.topic" in exchanges
    finally:
        await asyncio.to_thread(node.stop, within=30.0)
        node.release_epmd()
