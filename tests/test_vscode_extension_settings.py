"""The VS Code extension's contributed settings mirror the language server's (names, defaults, bounds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lsp_server.settings import (
    _KEYS,
    DEVICES,
    QUANTIZE_CHOICES,
    SECTION,
    STRATEGIES,
    Settings,
    as_client_dict,
)
from model_runtime.quantize import QUANTIZE_MODES

MANIFEST = Path(__file__).resolve().parents[1] / "vscode-extension" / "package.json"
PROPERTIES = json.loads(MANIFEST.read_text())["contributes"]["configuration"]["properties"]
SERVER_DEFAULTS = as_client_dict(Settings())


def test_every_server_setting_is_contributed_and_nothing_else_but_python_path():
    contributed = {key.removeprefix(f"{SECTION}.") for key in PROPERTIES}
    assert contributed == set(SERVER_DEFAULTS) | {"pythonPath"}


@pytest.mark.parametrize("key", sorted(SERVER_DEFAULTS))
def test_extension_default_equals_server_default(key):
    assert PROPERTIES[f"{SECTION}.{key}"]["default"] == SERVER_DEFAULTS[key]


@pytest.mark.parametrize("key", sorted(k for k, (_n, _t, low, _h) in _KEYS.items() if low is not None))
def test_extension_bounds_equal_server_bounds(key):
    _name, _kind, low, high = _KEYS[key]
    schema = PROPERTIES[f"{SECTION}.{key}"]
    assert (schema["minimum"], schema["maximum"]) == (low, high)


def test_device_choices_equal_server_devices():
    assert tuple(PROPERTIES[f"{SECTION}.device"]["enum"]) == DEVICES


def test_quantize_choices_are_auto_then_the_runtime_modes_each_described():
    schema = PROPERTIES[f"{SECTION}.quantize"]
    assert tuple(schema["enum"]) == QUANTIZE_CHOICES == ("auto", *QUANTIZE_MODES)
    assert len(schema["enumDescriptions"]) == len(QUANTIZE_CHOICES)


def test_strategy_choices_are_default_then_the_runtime_strategies_each_described():
    from model_runtime.strategies import STRATEGIES as RUNTIME_STRATEGIES

    schema = PROPERTIES[f"{SECTION}.strategy"]
    from model_runtime.registry.catalog import STRATEGIES as REGISTRY_STRATEGIES

    assert (
        tuple(schema["enum"])
        == STRATEGIES
        == ("default", *RUNTIME_STRATEGIES)
        == ("default", *REGISTRY_STRATEGIES)
    )
    assert len(schema["enumDescriptions"]) == len(STRATEGIES)
