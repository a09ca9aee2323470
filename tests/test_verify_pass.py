"""The exact verification pass: several new tokens in one pass give, row for row, the logits of one-token steps."""

from __future__ import annotations

import contextlib
import copy

import pytest

from model_runtime.kv_cache import growing_cache
from model_runtime.loading import load_model
from model_runtime.quantize import SMALL_ROWS_WITHOUT_BF16, int8_linear_class
from model_runtime.verify_pass import exact_rows

torch = pytest.importorskip("torch")

PROMPT = [5, 6, 7, 8, 9, 10, 11]
NEW = [12, 13, 14, 15, 16, 17, 18]  # more rows than quantize.SMALL_ROWS


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _steps_and_pass(model, exact: bool):
    """(logits of NEW one token at a time, logits of NEW in one pass), both after PROMPT."""
    with torch.inference_mode():
        cache = growing_cache()
        model(input_ids=torch.tensor([PROMPT]), cache=cache, use_cache=True)
        stepped = copy.deepcopy(cache)
        steps = [
            model(input_ids=torch.tensor([[token]]), cache=stepped, use_cache=True).logits[0, -1]
            for token in NEW
        ]
        with exact_rows(model, len(NEW), "cpu") if exact else contextlib.nullcontext():
            out = model(input_ids=torch.tensor([NEW]), cache=cache, use_cache=True, logits_to_keep=len(NEW))
    return torch.stack(steps), out.logits[0]


def test_an_int8_pass_equals_one_token_steps_bit_for_bit(tiny_model_dir):
    model = load_model(tiny_model_dir, device="cpu", quantize="int8").model
    steps, one_pass = _steps_and_pass(model, exact=True)
    assert torch.equal(one_pass, steps)


def test_an_fp32_pass_equals_one_token_steps_up_to_rounding(tiny_model_dir):
    model = load_model(tiny_model_dir, device="cpu").model
    steps, one_pass = _steps_and_pass(model, exact=True)
    torch.testing.assert_close(one_pass, steps, atol=1e-4, rtol=1e-4)


def test_the_model_is_left_as_it_was(tiny_model_dir):
    model = load_model(tiny_model_dir, device="cpu", quantize="int8").model
    before = model.config._attn_implementation
    layers = [m for m in model.modules() if isinstance(m, int8_linear_class())]
    small_rows = [m.small_rows for m in layers]
    with exact_rows(model, SMALL_ROWS_WITHOUT_BF16 + 1, "cpu"):
        assert model.config._attn_implementation != before
        assert all(m.small_rows == SMALL_ROWS_WITHOUT_BF16 + 1 for m in layers)
    assert model.config._attn_implementation == before
    assert [m.small_rows for m in layers] == small_rows
