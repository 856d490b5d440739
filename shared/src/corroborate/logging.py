"""structlog configured for one JSON line per event on stdout.

Log lines carry identifiers (case_id, correlation_id, event type) and outcomes, never personal
data: callers pass only those fields, and ``drop_personal_data`` removes any key that names
identity, as a second line of defence.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

# Keys that may carry survivor identity. A log call that passes one loses it.
PERSONAL_KEYS = frozenset(
    {
        "name",
        "full_name",
        "survivor_name",
        "other_names",
        "date_of_birth",
        "dob",
        "home_office_reference",
        "email",
        "phone",
        "address",
        "identity",
        "body",
        "payload",
    }
)


def drop_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Remove keys that could carry personal data before a line is rendered."""
    for key, value in event_dict.items():
        event_dict[key] = "[removed]" if key in PERSONAL_KEYS else _scrub(value)
    return event_dict


def _scrub(value: Any) -> Any:
    """Identity keys nested in logged mappings and sequences are removed too."""
    if isinstance(value, Mapping):
        return {k: "[removed]" if k in PERSONAL_KEYS else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


class _CurrentStdout:
    """Whatever ``sys.stdout`` is when a line is written, not when logging was configured
    (a test runner or a daemon may swap it and close the old one)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


_STDOUT = _CurrentStdout()


def configure_logging(*, service: str, level: str = "INFO") -> None:
    """Route structlog and the standard library through one JSON renderer on stdout."""

    def add_service(
        _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        drop_personal_data,
    ]
    structlog.configure(
        processors=[
            *shared,
            # Tracebacks without local variables: a frame's locals may hold a survivor's details.
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(_STDOUT),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )

    # Libraries that log through the standard library (uvicorn, faststream, pymongo) are
    # rendered the same way, without their access lines (requests are logged by middleware).
    handler = logging.StreamHandler(_STDOUT)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.ExceptionRenderer(
                    structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
                ),
                structlog.processors.EventRenamer("message"),
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    # uvicorn's command line gives its loggers handlers of their own, printing plain text, and
    # stops them propagating: they are brought back to the one JSON handler.
    for lib in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream"):
        library_logger = logging.getLogger(lib)
        library_logger.handlers = []
        library_logger.propagate = True
        library_logger.setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").disabled = True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A logger whose lines carry the bound context (service, correlation id, case id)."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
