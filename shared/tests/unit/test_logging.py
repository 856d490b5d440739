"""Log lines: one JSON object per line on stdout, never carrying survivor identity."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from corroborate.logging import configure_logging, drop_personal_data, get_logger

NAME = "Zubeida Canary-Qorxoy"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; put it back for the other tests."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers, root.level = handlers, level
    logging.getLogger("uvicorn.access").disabled = False


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def test_identity_keys_are_removed_from_log_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(service="intake")

    get_logger("test").info(
        "referral received",
        case_id="c-1",
        full_name=NAME,
        date_of_birth="1990-05-17",
        home_office_reference="HO-998877",
        email="z@example.org",
    )

    out = capsys.readouterr().out
    assert NAME not in out
    assert "1990-05-17" not in out
    assert "HO-998877" not in out
    assert "z@example.org" not in out
    (line,) = [json.loads(text) for text in out.splitlines()]
    assert line["full_name"] == "[removed]"
    assert line["case_id"] == "c-1"  # identifiers an operator needs stay


def test_identity_bound_in_context_is_removed_too(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(service="review")
    structlog.contextvars.bind_contextvars(survivor_name=NAME)

    get_logger("test").warning("something happened")

    out = capsys.readouterr().out
    assert NAME not in out
    assert "[removed]" in out


def test_identity_nested_in_a_logged_mapping_is_removed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A second line of defence must also catch ``log.info(..., referral=model.model_dump())``."""
    configure_logging(service="intake")

    get_logger("test").info("referral saved", referral={"reference": "CRB-1", "full_name": NAME})

    assert NAME not in capsys.readouterr().out


def test_each_line_is_json_with_what_an_operator_needs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(service="reporting")

    get_logger("test").info("event handled", outcome="handled", case_id="c-9")
    logging.getLogger("some.library").warning("library says %s", "hello")

    first, second = lines(capsys)
    assert first["message"] == "event handled"
    assert first["level"] == "info"
    assert first["service"] == "reporting"
    assert first["outcome"] == "handled"
    assert "timestamp" in first
    assert second["message"] == "library says hello"
    assert second["level"] == "warning"


def test_level_filters_lower_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(service="intake", level="WARNING")

    log = get_logger("test")
    log.info("routine")
    log.warning("attention")

    assert [line["message"] for line in lines(capsys)] == ["attention"]


def test_drop_personal_data_leaves_other_keys_alone() -> None:
    event = {"event": "x", "case_id": "c-1", "payload": {"full_name": NAME}, "outcome": "ok"}
    cleaned = drop_personal_data(None, "info", dict(event))
    assert cleaned == {"event": "x", "case_id": "c-1", "payload": "[removed]", "outcome": "ok"}
