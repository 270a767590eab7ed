"""Frozen values whose repr never shows a payload, and the direction of a frame: the shapes
every layer shares (Hydra events, capture records, the call's facts, journal records)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar, dataclass_transform

from recorder.units import BYTES_PER_SAMPLE

__all__ = ["Direction", "SafeRepr", "frozen_value", "secret_field"]


class Direction(enum.StrEnum):
    """Which way a frame travelled through the proxy."""

    C2S = "c2s"  # client -> Hydra (caller)
    S2C = "s2c"  # Hydra -> client (agent)


def secret_field(default: Any = None) -> Any:
    """A field whose value must never appear in a repr (only its length does)."""
    return field(default=default, metadata={"secret": True})


class SafeRepr:
    """repr that shows sizes instead of payloads for fields marked secret or named ``pcm``."""

    __slots__ = ()

    def __repr__(self) -> str:
        parts: list[str] = []
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name == "pcm" and isinstance(value, bytes):
                parts.append(f"pcm=<{len(value)} bytes, {len(value) // BYTES_PER_SAMPLE} samples>")
            elif f.metadata.get("secret") and value is not None:
                unit = "bytes" if isinstance(value, bytes) else "chars"
                parts.append(f"{f.name}=<{len(value)} {unit}>")
            else:
                parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


_T = TypeVar("_T")


@dataclass_transform(frozen_default=True)
def frozen_value(cls: type[_T]) -> type[_T]:
    """A frozen, slotted dataclass whose repr is SafeRepr's (a decorator type checkers see
    through, which a bare `dataclass(...)` alias is not)."""
    return dataclass(frozen=True, slots=True, repr=False)(cls)
