"""Profiling one service during a run, with pyinstrument (installed by hand, for one's own runs:
``uv pip install pyinstrument``; not a project dependency)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.stack import ROOT, BenchStack, StackError


def profile_service(stack: BenchStack, service: str) -> tuple[Path, subprocess.Popen[bytes]]:
    """Replace one running service with the same one under pyinstrument (on the same port,
    its PID recorded where services.sh stops it); the profile is written when it stops."""
    pid = stack.pids()[service]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    out = ROOT / "bench/results" / f"profile-{service}-{int(time.time())}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    log = (stack.state_dir / "logs" / f"{service}.log").open("ab")
    process = subprocess.Popen(  # the same service, profiled; stopped by services.sh
        [
            str(ROOT / ".venv/bin/python"),
            "-m",
            "pyinstrument",
            "--no-color",
            "-r",
            "text",
            "-o",
            str(out),
            "-m",
            "uvicorn",
            "--factory",
            f"{service}.bootstrap:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(getattr(stack.ports, service)),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "25",
        ],
        env=stack.environment(),
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    (stack.state_dir / "pids" / f"{service}.pid").write_text(f"{process.pid}\n")
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{stack.url(service)}/readyz", timeout=2).status_code == 200:
                return out, process
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise StackError(f"{service} did not start under pyinstrument")
        time.sleep(0.3)


def stop_profiled(process: subprocess.Popen[bytes]) -> None:
    """SIGINT, not SIGTERM: uvicorn re-raises the signal it stopped on, and pyinstrument
    writes its profile on KeyboardInterrupt but dies with SIGTERM."""
    if process.poll() is not None:
        return
    print(
        f"[bench] stopping the profiled service (pid {process.pid}) so that its profile is written",
        file=sys.stderr,
    )
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
