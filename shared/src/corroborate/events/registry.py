"""Which payload model belongs to which event type and schema version."""

from __future__ import annotations

from pydantic import BaseModel

from corroborate.events.errors import UnknownEventType, UnsupportedSchemaVersion


class EventRegistry:
    """Maps ``(type, schema_version)`` to a payload model, and back."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, int], type[BaseModel]] = {}
        self._names: dict[type[BaseModel], tuple[str, int]] = {}

    def register(self, event_type: str, version: int, model: type[BaseModel]) -> None:
        if (event_type, version) in self._models:
            raise ValueError(f"{event_type} v{version} is already registered")
        self._models[(event_type, version)] = model
        self._names[model] = (event_type, version)

    def identify(self, model: type[BaseModel]) -> tuple[str, int]:
        try:
            return self._names[model]
        except KeyError as exc:
            raise LookupError(f"{model.__name__} is not a registered event payload") from exc

    def model_for(self, event_type: str, version: int) -> type[BaseModel]:
        if (event_type, version) in self._models:
            return self._models[(event_type, version)]
        known = sorted(v for (t, v) in self._models if t == event_type)
        if known:
            raise UnsupportedSchemaVersion(
                f"{event_type} schema version {version} is not supported (supported: {known})"
            )
        raise UnknownEventType(f"unknown event type '{event_type}'")

    def versions(self, event_type: str) -> list[int]:
        return sorted(v for (t, v) in self._models if t == event_type)

    @property
    def event_types(self) -> list[str]:
        return sorted({t for (t, _) in self._models})
