"""Int8 weight-only decoding (opt-in): close to fp32 per layer, the tiny model still suggests its known edit."""

from __future__ import annotations

import pytest

from model_runtime.generation import generate
from model_runtime.loading import QUANTIZE_ENV, ModelLoadError, load_model, resolve_quantize
from model_runtime.quantize import SMALL_ROWS, SMALL_ROWS_WITHOUT_BF16, int8_linear_class, quantize_int8
from model_runtime.suggestions import suggest
from tests.support.tiny_model import (
    KNOWN_EDITS,
    KNOWN_INSTRUCTION,
    KNOWN_NEXT_LINE,
    KNOWN_NEXT_LINES,
    KNOWN_STATES,
    prompt_for_state,
)

torch = pytest.importorskip("torch")


@pytest.fixture
def int8_model(tiny_model_dir):
    loaded = load_model(tiny_model_dir, device="cpu", quantize="int8")
    loaded.prompt_cache = None
    return loaded


@pytest.mark.parametrize("rows", [1, SMALL_ROWS, SMALL_ROWS + 1, SMALL_ROWS_WITHOUT_BF16 + 1, 300])
def test_an_int8_linear_stays_within_a_percent_of_the_float_layer(rows):
    torch.manual_seed(0)
    linear = torch.nn.Linear(256, 96, bias=True)
    x = torch.randn(rows, 256)
    with torch.inference_mode():
        exact = linear(x)
        approx = int8_linear_class()(linear)(x)
    assert approx.dtype == exact.dtype and approx.shape == exact.shape
    assert float((approx - exact).norm() / exact.norm()) < 0.01


def test_few_and_many_rows_use_the_same_weights():
    torch.manual_seed(0)
    layer = int8_linear_class()(torch.nn.Linear(128, 64, bias=False))
    x = torch.randn(layer.small_rows + 1, 128)
    with torch.inference_mode():
        by_row = torch.cat([layer(row[None]) for row in x])  # int8 kernel, one row at a time
        batched = layer(x)  # the bf16 copy of the dequantised weights, or (without native bf16) fp32 ones
    assert float((by_row - batched).norm() / batched.norm()) < 0.01


def test_every_linear_layer_is_replaced(tiny_model_dir):
    loaded = load_model(tiny_model_dir, device="cpu", quantize="int8")
    layers = [m for m in loaded.model.modules() if isinstance(m, torch.nn.Linear)]
    assert layers == []
    assert quantize_int8(loaded.model) == 0  # already quantised: nothing left to replace
    assert loaded.quantization == "int8"
    assert loaded is not load_model(tiny_model_dir, device="cpu", quantize="none")


def test_the_int8_model_decodes_the_known_next_edit_and_suggests_it_in_place(int8_model):
    result = generate(int8_model, prompt_for_state(2), temperature=0)
    assert result.candidates[0].text == KNOWN_EDITS[2]
    suggested = suggest(int8_model, KNOWN_STATES[2], instruction=KNOWN_INSTRUCTION, k=4, seed=0)
    assert suggested.suggestions[0].placements[0].line == KNOWN_NEXT_LINE
    assert suggested.suggestions[0].placements[0].lines == KNOWN_NEXT_LINES


def test_the_environment_turns_int8_on_where_it_can(monkeypatch):
    monkeypatch.setenv(QUANTIZE_ENV, "int8")
    assert resolve_quantize(None, "cpu") == "int8"
    assert resolve_quantize(None, "cuda") == "none"
    assert resolve_quantize("none", "cpu") == "none"


def test_unknown_or_unsupported_quantization_is_refused():
    with pytest.raises(ModelLoadError, match="unknown quantization"):
        resolve_quantize("int4", "cpu")
    with pytest.raises(ModelLoadError, match="CPU only"):
        resolve_quantize("int8", "cuda")


def test_the_suggest_command_takes_quantize(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from training.cli import app

    source = tmp_path / "known.py"
    source.write_text(KNOWN_STATES[2] + "\n")
    args = ["suggest", str(source), "--model", str(tiny_model_dir), "--instruction", KNOWN_INSTRUCTION]
    result = CliRunner().invoke(app, [*args, "--quantize", "int8", "-k", "1", "--temperature", "0"])
    assert result.exit_code == 0, result.output
    assert "int8 weights" in result.output
    assert KNOWN_NEXT_LINES[1] in result.output


def test_kernel_rows_keeps_the_int8_kernel_for_more_rows_while_inside():
    from model_runtime.quantize import kernel_rows

    torch.manual_seed(0)
    model = torch.nn.Sequential(int8_linear_class()(torch.nn.Linear(128, 64, bias=False)))
    x = torch.randn(model[0].small_rows + 3, 128)
    with torch.inference_mode():
        by_row = torch.cat([model(row[None]) for row in x])
        with kernel_rows(model, len(x)):
            inside = model(x)
        outside = model(x)
    assert torch.equal(inside, by_row)  # the int8 kernel computes each row alone
    assert not torch.equal(outside, by_row)  # past small_rows another matmul rounds differently


def test_the_int8_kernel_takes_more_rows_where_the_other_path_dequantises_every_call(monkeypatch):
    import model_runtime.quantize as quantize

    layers = {}
    for native in (True, False):
        monkeypatch.setattr(quantize, "native_bf16", lambda native=native: native)
        layers[native] = int8_linear_class()(torch.nn.Linear(128, 64, bias=False))
    assert layers[True].small_rows == SMALL_ROWS
    assert layers[False].small_rows == SMALL_ROWS_WITHOUT_BF16 > SMALL_ROWS
    assert not hasattr(layers[False], "weight_bf16")  # no resident bf16 copy where bf16 is emulated
