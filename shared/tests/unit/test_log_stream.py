"""A service's whole output, as uvicorn runs it, is JSON a log shipper can read: one object per
line, a failed request at level ``error`` with its exception as fields."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx

APP = textwrap.dedent(
    """
    from fastapi import FastAPI

    from corroborate.http import install_common
    from corroborate.logging import configure_logging


    def create_app() -> FastAPI:
        configure_logging(service="probe", level="INFO")
        app = FastAPI()
        install_common(app)

        @app.get("/fails")
        async def fails() -> None:
            raise RuntimeError("the probe fails on purpose")

        @app.get("/works")
        async def works() -> dict[str, str]:
            return {"status": "ok"}

        return app
    """
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serve_and_call(folder: Path) -> list[str]:
    (folder / "probe_app.py").write_text(APP, encoding="utf-8")
    port = _free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "--factory", "probe_app:create_app"),
            *("--app-dir", str(folder), "--host", "127.0.0.1", "--port", str(port)),
            "--no-access-log",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/works", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, "the probe server exited"
                assert time.monotonic() < deadline, "the probe server did not start"
                time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/fails", timeout=5).status_code == 500
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    return [line for line in output.splitlines() if line.strip()]


def test_every_line_is_json_and_a_failure_is_an_error_with_its_exception(
    tmp_path: Path,
) -> None:
    lines = _serve_and_call(tmp_path)

    parsed: list[dict[str, Any]] = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"a line that is not JSON: {line!r}") from None
    requests = {p["route"]: p for p in parsed if p.get("message") == "request"}
    assert requests["/works"]["level"] == "info"
    failed = requests["/fails"]
    assert (failed["level"], failed["status"], failed["outcome"]) == ("error", 500, "error")
    (exception,) = failed["exception"]
    assert exception["exc_type"] == "RuntimeError"
    assert exception["exc_value"] == "the probe fails on purpose"
    assert any(frame["name"] == "fails" for frame in exception["frames"])
    assert all("locals" not in frame for frame in exception["frames"])
    # uvicorn's own report of the exception is JSON at level error too, not a plain traceback.
    (reported,) = [p for p in parsed if p.get("logger") == "uvicorn.error" and "exception" in p]
    assert reported["level"] == "error"
    assert reported["exception"][0]["exc_type"] == "RuntimeError"
