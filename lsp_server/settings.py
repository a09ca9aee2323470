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

from model_runtime.quantize import QUANTIZE_MODES  # imports no torch
from model_runtime.windows import DEFAULT_WINDOW  # imports no torch

SECTION = "editseq"


@dataclass(frozen=True)
class Settings:
    """Everything a user can configure; defaults work on a laptop CPU."""

    model_path: str = ""  # a registry name or a model path; empty: the registry's default model
    device: str = "auto"
    # "auto": the model's own choice (``$EDITSEQ_QUANTIZE``, else its registry entry's ``cpu_quantize``); "none";
    # "int8": int8 weight-only Linear layers for faster CPU decoding (model_runtime.quantize).
    quantize: str = "auto"
    strategy: str = (
        "default"  # how the model proposes edits (model_runtime.strategies); "default": the model's own
    )
    k: int = 3
    temperature: float = 0.8
    # The first suggestion from one greedy candidate, answered at once; the other k - 1 sampled after it
    # (model_runtime.staged). Off: all k sampled in one batch before anything is shown.
    greedy_first: bool = True
    top_p: float = 0.95
    max_new_tokens: int = 96
    prefetch: bool = True
    idle_ms: int = 300
    history_length: int = 5
    prompt_window: int = DEFAULT_WINDOW  # lines of a long file the model sees (model_runtime.windows)
    logging: bool = True


# camelCase key -> (field name, type, lower bound, upper bound); bounds keep a typo from starving the machine.
_KEYS: dict[str, tuple[str, type, float | None, float | None]] = {
    "modelPath": ("model_path", str, None, None),
    "device": ("device", str, None, None),
    "quantize": ("quantize", str, None, None),
    "strategy": ("strategy", str, None, None),
    "k": ("k", int, 1, 16),
    "temperature": ("temperature", float, 0.0, 5.0),
    "greedyFirst": ("greedy_first", bool, None, None),
    "topP": ("top_p", float, 0.0, 1.0),
    "maxNewTokens": ("max_new_tokens", int, 1, 2048),
    "prefetch": ("prefetch", bool, None, None),
    "idleMs": ("idle_ms", int, 0, 60_000),
    "historyLength": ("history_length", int, 0, 100),
    "promptWindow": ("prompt_window", int, 0, 100_000),
    "logging": ("logging", bool, None, None),
}
DEVICES = ("auto", "cpu", "cuda", "mps")
QUANTIZE_CHOICES = ("auto", *QUANTIZE_MODES)
# model_runtime.strategies.STRATEGIES (a test keeps them equal; importing it here would import torch).
STRATEGIES = ("default", "lintseq", "fim", "rewrite", "continue")
# Settings whose initial value an environment variable gives (the server's process environment). $EDITSEQ_QUANTIZE
# needs no entry: quantize "auto" leaves it to the model loader, which reads it.
ENVIRONMENT = {"modelPath": "EDITSEQ_MODEL_PATH"}
# String settings that must name one of a few choices; an empty string is the default choice.
_CHOICES = {"device": DEVICES, "quantize": QUANTIZE_CHOICES, "strategy": STRATEGIES}


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
    for key, choices in _CHOICES.items():
        name = _KEYS[key][0]
        if name not in changes:
            continue
        value = changes[name]
        if value == "":
            changes[name] = getattr(Settings(), name)
            continue
        if (value.split(":")[0] if key == "device" else value) not in choices:  # a device may name its index
            problems.append(
                f"{SECTION}.{key}: must be one of {', '.join(choices)}; keeping {getattr(base, name)!r}"
            )
            del changes[name]
    # Unchanged settings stay the same object: work in flight checks identity to know its settings still hold.
    return (replace(base, **changes) if changes else base), problems


def model_source(settings: Settings) -> tuple[str, str, str]:
    """What the model is loaded from: when any of it changes, the server reloads the model."""
    return settings.model_path, settings.device, settings.quantize


def from_environment(environ: Mapping[str, str]) -> tuple[Settings, list[str]]:
    """The settings before the client sends any: ``$EDITSEQ_MODEL_PATH`` (the client's ``modelPath`` replaces it).
    ``$EDITSEQ_QUANTIZE`` is read by the model loader while ``quantize`` is ``auto``."""
    raw = {key: environ.get(variable) or None for key, variable in ENVIRONMENT.items()}
    return merge_settings(Settings(), raw)


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
