"""Test namespaces that say whose they are: ``t`` + the run's UTC start time + the pytest
process id + a random part, e.g. ``t261207190644p48213r9f3a``.

From the name alone a later run can tell that a queue, database or bucket is the test suite's,
when the run that made it started, and (from the process table) whether that run is still
alive. No hyphen, dot or underscore inside, so the name is one token in every name formed from
it: ``<ns>.<service>.<event>`` (queues), ``<ns>_<service>`` (databases), ``<purpose>-<ns>``
(buckets); 26 characters at most.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

_STAMP = "%y%m%d%H%M%S"
PATTERN = r"t\d{12}p\d{1,7}r[0-9a-f]{4}"
"""A test namespace, as a regular expression (no anchors)."""

_PARSE = re.compile(r"t(?P<stamp>\d{12})p(?P<pid>\d{1,7})r[0-9a-f]{4}")

SLACK = timedelta(seconds=5)
"""How much later than its namespace's time a run's process may seem to have started: both are
read to the second, and the boot time the process's start is counted from is rounded."""

UNKNOWN_LIFE_BOUND = timedelta(hours=6)
"""Where the process table cannot be read, a namespace this old is taken for a dead run's."""


def new_namespace(*, started: datetime | None = None, pid: int | None = None) -> str:
    """A namespace of this test run's own (or, for tests of the sweep, of a run named here)."""
    at = (started or datetime.now(UTC)).astimezone(UTC)
    return f"t{at.strftime(_STAMP)}p{pid or os.getpid()}r{secrets.token_hex(2)}"


@dataclass(frozen=True)
class RunNamespace:
    """What a test namespace's name says about the run that made it."""

    name: str
    started: datetime
    pid: int

    @classmethod
    def parse(cls, name: str) -> RunNamespace | None:
        """The run a name belongs to, or None if it is not recognisably a test namespace."""
        found = _PARSE.fullmatch(name)
        if found is None:
            return None
        try:
            started = datetime.strptime(found["stamp"], _STAMP).replace(tzinfo=UTC)
        except ValueError:  # twelve digits that are no time
            return None
        return cls(name=name, started=started, pid=int(found["pid"]))

    def alive(self, *, proc: Path = Path("/proc")) -> bool | None:
        """Whether the process the name is for still runs: the process id exists, is not a
        zombie, and started no later than the namespace (a later start is the id reused by
        another program). None where the process table cannot be read."""
        if not (proc / "stat").is_file():
            return None
        try:
            stat = (proc / str(self.pid) / "stat").read_text(encoding="utf-8")
        except FileNotFoundError:
            return False
        except OSError:
            return None
        # After the command name (which may hold spaces and parentheses): state, ..., and the
        # start time in clock ticks since boot, the 22nd field of the line.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] in {"Z", "X"}:
            return False
        ticks = int(fields[19])
        started = _boot_time(proc) + timedelta(seconds=ticks / os.sysconf("SC_CLK_TCK"))
        return started <= self.started + SLACK

    def dead(self, *, now: datetime | None = None, proc: Path = Path("/proc")) -> bool:
        """Whether the run is gone; if the process table cannot tell, whether it is older than
        any run lasts."""
        alive = self.alive(proc=proc)
        if alive is None:
            return (now or datetime.now(UTC)) - self.started > UNKNOWN_LIFE_BOUND
        return not alive


def _boot_time(proc: Path) -> datetime:
    for line in (proc / "stat").read_text(encoding="utf-8").splitlines():
        if line.startswith("btime "):
            return datetime.fromtimestamp(int(line.split()[1]), tz=UTC)
    raise RuntimeError(f"{proc / 'stat'} gives no boot time")
