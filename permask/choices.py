"""`Choice`: the base of every config value with a fixed set of values."""

from __future__ import annotations

from enum import Enum


class Choice(str, Enum):
    """A config value from a fixed set: in a typed schema, Hydra refuses any other value at
    start with its own message. Members compare equal to (and print as) their value, so code and
    YAML keep using plain strings."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class Precision(Choice):
    """Floating-point precision of a learned model's forward pass (autocast)."""

    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"
