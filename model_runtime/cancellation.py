"""Cancelling generation: the flag a caller sets, the exception a cancelled call raises."""

from __future__ import annotations

from typing import Protocol


class Cancelled(Exception):
    """Generation was cancelled through its ``cancel`` event."""


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


def check(cancel: CancelFlag) -> None:
    """Raise Cancelled when ``cancel`` is set (called before each forward pass)."""
    if cancel.is_set():
        raise Cancelled("generation was cancelled")
