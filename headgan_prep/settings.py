"""Stage settings: frozen dataclasses built from the sections of the workflow configuration."""

from __future__ import annotations

import dataclasses
import typing
from typing import ClassVar


class StageSettings:
    """Mixin for a frozen dataclass that holds one section of ``config.yaml`` (e.g. ``ingest:``).

    Subclasses set :attr:`section` (the section's name, used in messages) and :attr:`error` (the
    exception raised for a bad section). Fields whose type is itself a dataclass are nested
    sections (``ingest.detector``).
    """

    section: ClassVar[str]
    error: ClassVar[type[ValueError]]

    @classmethod
    def from_dict(cls, values: dict | None):
        """Build from a mapping such as the section of the workflow configuration; missing keys keep
        their defaults, unknown keys and values of the wrong kind raise :attr:`error`."""
        return _build(cls, values, cls.section, cls.error)

    def to_dict(self) -> dict:
        """Plain nested dict (JSON-serialisable), the inverse of :meth:`from_dict`."""
        return dataclasses.asdict(self)


def _build(kind: type, values: dict | None, section: str, error: type[ValueError]):
    values = dict(values or {})
    fields = {field.name for field in dataclasses.fields(kind)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise error(f"unknown key(s) in {section}: {', '.join(unknown)}")
    hints = typing.get_type_hints(kind)
    arguments = {
        name: _build(hints[name], value, f"{section}.{name}", error) if dataclasses.is_dataclass(hints[name]) else value
        for name, value in values.items()
    }
    try:
        return kind(**arguments)
    except TypeError as err:
        raise error(f"invalid {section} configuration: {err}") from None
