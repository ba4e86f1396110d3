"""The value every normaliser returns: the canonical key plus facts about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Normalised:
    """A canonical indicator value; `kind` may differ from the one asked for (numeric sender ID)."""

    kind: str
    value: str
    listable: bool = True
    facts: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-serialisable shape that the API and the command line print."""
        return {
            "kind": self.kind,
            "value": self.value,
            "listable": self.listable,
            "facts": self.facts,
        }
