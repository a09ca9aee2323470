"""The ``workspace/executeCommand`` commands the server offers, and validation of their one-object argument."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ACCEPT_NEXT_STEP = "editseq.acceptNextStep"
ACCEPT_ALL = "editseq.acceptAll"
GENERATE = "editseq.generate"
CHOOSE = "editseq.choose"
REJECT = "editseq.reject"
CANCEL = "editseq.cancel"
STATUS = "editseq.status"
RELOAD_MODEL = "editseq.reloadModel"
ALL = (ACCEPT_NEXT_STEP, ACCEPT_ALL, GENERATE, CHOOSE, REJECT, CANCEL, STATUS, RELOAD_MODEL)


class CommandArgumentError(ValueError):
    """Arguments a command cannot use; the message says which and what was expected."""


@dataclass(frozen=True)
class CommandArgs:
    """The fields a command may take; each command checks the ones it needs."""

    uri: str | None = None
    instruction: str | None = None
    index: int | None = None
    k: int | None = None


def parse_args(command: str, arguments: Sequence[Any] | None, *, need: Sequence[str] = ()) -> CommandArgs:
    """The one JSON object a command takes (``[{...}]``), checked; raises CommandArgumentError when unusable.

    A bare string as the only argument is read as ``uri`` (some clients send positional arguments).
    """
    arguments = list(arguments or [])
    if len(arguments) > 1:
        raise CommandArgumentError(f"{command} takes one object argument, got {len(arguments)} arguments")
    raw = arguments[0] if arguments else {}
    if isinstance(raw, str):
        raw = {"uri": raw}
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise CommandArgumentError(f"{command} takes one object argument, got {type(raw).__name__}")
    uri = _optional(raw, "uri", str, command)
    instruction = _optional(raw, "instruction", str, command)
    index = _optional(raw, "index", int, command)
    k = _optional(raw, "k", int, command)
    if k is not None and not 1 <= k <= 16:
        raise CommandArgumentError(f"{command}: k must be between 1 and 16, got {k}")
    if index is not None and index < 0:
        raise CommandArgumentError(f"{command}: index must be >= 0, got {index}")
    parsed = CommandArgs(uri=uri, instruction=instruction, index=index, k=k)
    missing = [name for name in need if getattr(parsed, name) in (None, "")]
    if missing:
        raise CommandArgumentError(f'{command} needs {", ".join(missing)} (e.g. [{{"uri": "file:///x.py"}}])')
    return parsed


def _optional(raw: dict[str, Any], key: str, kind: type, command: str) -> Any:
    value = raw.get(key)
    if value is None:
        return None
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CommandArgumentError(f"{command}: {key} must be a {kind.__name__}, got {value!r}")
    return value
