"""In-memory stand-ins for the kernel's ports, for unit tests of a service's use cases."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from corroborate.audit import Actor


@dataclass
class MemoryAudit:
    """The audit trail port (``corroborate.audit.AuditTrail``) in memory: each action recorded
    with the subject who took it, in order."""

    recorded: list[tuple[str, str]] = field(default_factory=list)

    async def record(
        self,
        action: str,
        *,
        actor: Actor,
        case_id: object | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        self.recorded.append((action, actor.subject))
        return len(self.recorded)

    @property
    def actions(self) -> list[str]:
        return [action for action, _subject in self.recorded]

    def clear(self) -> None:
        self.recorded.clear()
