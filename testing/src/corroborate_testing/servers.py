"""Servers a fault test owns: a RabbitMQ node, a SecantusDB and the three services, as OS
processes on loopback that it can kill -9 and start again on the same data.

Each runs in a process group of its own, so a kill reaches the whole program (RabbitMQ's start
script and its Erlang VM) and nothing else on the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import httpx
from pymongo import AsyncMongoClient

from corroborate.settings import Settings

RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
SERVICES = ("intake", "review", "reporting")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def epmd_answers() -> bool:
    """Erlang's port mapper listens (a node started now would reuse it, not start one)."""
    return port_open(4369)


class ServerProcess(ABC):
    """One program in its own process group, its output appended to a log file. Each kind
    says how it is started and how to tell that it answers."""

    def __init__(self, name: str, *, log: Path) -> None:
        self.name = name
        self.log = log
        self._process: subprocess.Popen[bytes] | None = None

    @abstractmethod
    def _command(self) -> list[str]:
        """The program and its arguments."""

    def _environment(self) -> Mapping[str, str]:
        return os.environ

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def exit_code(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def spawn(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            out.write(f"\n--- {self.name} starting at {time.strftime('%X')} ---\n".encode())
            out.flush()
            self._process = subprocess.Popen(  # noqa: S603 - our own servers
                self._command(),
                env=dict(self._environment()),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL to the whole group, as a crash or an OOM kill would end it."""
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()

    def stop(self, *, within: float = 30.0) -> None:
        """SIGTERM to the group; SIGKILL if it has not gone within ``within`` seconds."""
        if self._process is None:
            return
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=within)
        # Whatever the leader left behind in its group goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()
        self._process = None

    @abstractmethod
    async def answers(self) -> bool:
        """Whether the server answers a request now."""

    async def wait_ready(self, *, within: float) -> float:
        """Wait until the server answers; return how long that took."""
        started = time.monotonic()
        while not await self.answers():
            if not self.running():
                raise RuntimeError(f"{self.name} exited (log: {self.log})")
            if time.monotonic() - started > within:
                raise TimeoutError(f"{self.name} did not answer within {within:.0f}s")
            await asyncio.sleep(0.3)
        return time.monotonic() - started


class RabbitNode(ServerProcess):
    """A RabbitMQ node of its own: its own node name, AMQP and distribution ports, data and
    logs, no plugins (so no management listener), loopback only."""

    def __init__(self, directory: Path, *, port: int | None = None) -> None:
        super().__init__("rabbitmq", log=directory / "out.log")
        if not RABBITMQ_SERVER.exists():
            raise RuntimeError(
                f"{RABBITMQ_SERVER} is missing: deploy/local/stack.sh install-rabbitmq installs it"
            )
        self.directory = directory
        self.port = port or free_port()
        self.dist_port = free_port()
        self.node_name = f"corroborate-faults-{self.port}@localhost"
        self.started_epmd = not epmd_answers()
        (directory / "mnesia").mkdir(parents=True, exist_ok=True)
        (directory / "log").mkdir(parents=True, exist_ok=True)
        (directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "loopback_users.guest = true\n"
            "log.file.level = warning\n",
            encoding="utf-8",
        )
        (directory / "enabled_plugins").write_text("[].\n", encoding="utf-8")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _command(self) -> list[str]:
        return [str(RABBITMQ_SERVER)]

    def _environment(self) -> Mapping[str, str]:
        d = self.directory
        return {
            **os.environ,
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_NODENAME": self.node_name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_PID_FILE": str(d / "beam.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    async def answers(self) -> bool:
        if not port_open(self.port):  # spares the client's log a failed connection each poll
            return False
        try:
            connection = await aio_pika.connect(self.url, timeout=2)
        except Exception:  # not up yet: refused, reset or timed out
            return False
        await connection.close()
        return True

    def release_epmd(self) -> None:
        """Stop Erlang's port mapper if this node started it and no node still uses it."""
        epmd = shutil.which("epmd")
        if not self.started_epmd or epmd is None:
            return
        names = subprocess.run(  # noqa: S603 - the Erlang port mapper's own client
            [epmd, "-names"], capture_output=True, text=True, check=False
        )
        if "\nname " not in names.stdout:
            subprocess.run([epmd, "-kill"], capture_output=True, check=False)  # noqa: S603


class SecantusServer(ServerProcess):
    """SecantusDB on its own port, on-disk, so a restart finds every record it had."""

    def __init__(self, directory: Path, *, port: int | None = None) -> None:
        super().__init__("secantusdb", log=directory.parent / f"{directory.name}.log")
        self.directory = directory
        self.port = port or free_port()
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def _command(self) -> list[str]:
        return [
            str(Path(sys.executable).parent / "secantusd-py"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--storage-path",
            str(self.directory),
            "--log-level",
            "WARNING",
        ]

    async def answers(self) -> bool:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
            self.url, serverSelectionTimeoutMS=1000
        )
        try:
            await client.admin.command("ping")
        except Exception:  # not up yet
            return False
        finally:
            await client.close()
        return True


class ServiceProcess(ServerProcess):
    """One Corroborate service under uvicorn, as deploy/local/services.sh runs it."""

    def __init__(self, service: str, *, environment: Mapping[str, str], log: Path) -> None:
        super().__init__(service, log=log)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.environment = dict(environment)

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            f"{self.name}.bootstrap:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
        ]

    def _environment(self) -> Mapping[str, str]:
        return {**os.environ, **self.environment}

    async def answers(self) -> bool:
        try:
            async with httpx.AsyncClient(timeout=2.0) as http:
                return (await http.get(f"{self.url}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False


@dataclass
class Supervisor:
    """Starts the services again whenever one exits, as systemd's Restart=always would.

    ``restarts`` counts every start after the first; ``unplanned`` the exits nobody caused
    (say, a start that failed because the database was away).
    """

    services: dict[str, ServiceProcess]
    restart_delay: float = 0.5
    restarts: dict[str, int] = field(default_factory=dict)
    unplanned: dict[str, int] = field(default_factory=dict)
    _expected: set[str] = field(default_factory=set)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        for service in self.services.values():
            service.spawn()
        self._task = asyncio.create_task(self._watch(), name="service-supervisor")

    def kill(self, name: str) -> None:
        self._expected.add(name)
        self.services[name].kill()

    async def _watch(self) -> None:
        while True:
            for name, service in self.services.items():
                if service.running():
                    continue
                if name in self._expected:
                    self._expected.discard(name)
                else:
                    self.unplanned[name] = self.unplanned.get(name, 0) + 1
                await asyncio.sleep(self.restart_delay)
                service.spawn()
                self.restarts[name] = self.restarts.get(name, 0) + 1
            await asyncio.sleep(0.2)

    async def all_ready(self) -> bool:
        answers = await asyncio.gather(*(s.answers() for s in self.services.values()))
        return all(answers)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.gather(
            *(asyncio.to_thread(s.stop, within=30.0) for s in self.services.values())
        )


@dataclass
class FaultWorld:
    """A fault test's servers: the settings that reach them, and handles to kill them by."""

    settings: Settings
    rabbit: RabbitNode
    mongo: SecantusServer
    supervisor: Supervisor
    spy_queue: str
    logs: Path

    @property
    def services(self) -> dict[str, ServiceProcess]:
        return self.supervisor.services
