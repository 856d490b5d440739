"""The service boundaries hold: services share only the kernel, and domains stay pure."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "review", "reporting")


def test_import_contracts_hold() -> None:
    """import-linter: services never import each other; domains import no infrastructure;
    nothing that runs imports the test harness."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_depends_on_the_kernel_never_on_another_service(service: str) -> None:
    project = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())
    dependencies = " ".join(project["project"]["dependencies"])
    assert "corroborate-shared" in dependencies
    for other in SERVICES:
        if other != service:
            assert f"corroborate-{other}" not in dependencies
    assert "corroborate-testing" not in dependencies


def test_the_kernel_does_not_ship_the_test_harness() -> None:
    project = tomllib.loads((ROOT / "shared" / "pyproject.toml").read_text())
    assert "corroborate-testing" not in " ".join(project["project"]["dependencies"])
    assert not (ROOT / "shared" / "src" / "corroborate" / "testing").exists()
