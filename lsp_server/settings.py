"""The server's settings (section ``editseq``): defaults, and validation of what a client sends.

A client may send settings in ``initializationOptions``, answer ``workspace/configuration``, or push them with
``workspace/didChangeConfiguration``. Every path goes through ``merge_settings``: a bad value never crashes the
server; it keeps the previous value and is reported back as a problem string the server shows once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

SECTION = "editseq"


@dataclass(frozen=True)
class Settings:
    """Everything a user can configure; defaults work on a laptop CPU."""

    model_path: str = ""  # empty: the default EditSeq model (base + LintSeq adapter)
    device: str = "auto"
    k: int = 3
    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 96
    prefetch: bool = True
    idle_ms: int = 300
    history_length: int = 5
    logging: bool = True


# camelCase key -> (field name, type, lower bound, upper bound); bounds keep a typo from starving the machine.
_KEYS: dict[str, tuple[str, type, float | None, float | None]] = {
    "modelPath": ("model_path", str, None, None),
    "device": ("device", str, None, None),
    "k": ("k", int, 1, 16),
    "temperature": ("temperature", float, 0.0, 5.0),
    "topP": ("top_p", float, 0.0, 1.0),
    "maxNewTokens": ("max_new_tokens", int, 1, 2048),
    "prefetch": ("prefetch", bool, None, None),
    "idleMs": ("idle_ms", int, 0, 60_000),
    "historyLength": ("history_length", int, 0, 100),
    "logging": ("logging", bool, None, None),
}
DEVICES = ("auto", "cpu", "cuda", "mps")


def merge_settings(base: Settings, raw: Any) -> tuple[Settings, list[str]]:
    """``base`` updated with the recognised keys of ``raw``; returns the result and a problem per bad value.

    ``raw`` is the ``editseq`` section itself, or an object holding it under ``editseq``. Unknown keys (for
    example the client-only ``pythonPath``) are ignored; ``None`` values mean "not set".
    """
    if raw is None:
        return base, []
    if not isinstance(raw, Mapping):
        return base, [f"settings must be an object, got {type(raw).__name__}"]
    if isinstance(raw.get(SECTION), Mapping):
        raw = raw[SECTION]
    changes: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        if key not in _KEYS or value is None:
            continue
        name, kind, low, high = _KEYS[key]
        try:
            changes[name] = _coerce(value, kind, low, high)
        except ValueError as exc:
            problems.append(f"{SECTION}.{key}: {exc}; keeping {getattr(base, name)!r}")
    if "device" in changes and changes["device"].split(":")[0] not in DEVICES:
        problems.append(f"{SECTION}.device: must be one of {', '.join(DEVICES)}; keeping {base.device!r}")
        del changes["device"]
    # Unchanged settings stay the same object: work in flight checks identity to know its settings still hold.
    return (replace(base, **changes) if changes else base), problems


def _coerce(value: Any, kind: type, low: float | None, high: float | None) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        return value.strip()
    # JSON has one number type; accept 3.0 for an int but not 3.5, and never a bool (True is an int in Python).
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"expected a number, got {value!r}")
    if kind is int:
        if value != int(value):
            raise ValueError(f"expected a whole number, got {value!r}")
        value = int(value)
    else:
        value = float(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"must be between {low:g} and {high:g}, got {value!r}")
    return value


def as_client_dict(settings: Settings) -> dict[str, Any]:
    """The settings keyed the way a client writes them (camelCase), for status replies and logs."""
    by_field = {name: key for key, (name, *_rest) in _KEYS.items()}
    return {by_field[f.name]: getattr(settings, f.name) for f in fields(settings)}
