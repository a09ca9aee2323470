"""The growing KV cache: decodes exactly like transformers' DynamicCache, and writes steps in place."""

from __future__ import annotations

import copy

import pytest

from model_runtime.kv_cache import GROWTH, growing_cache
from model_runtime.loading import load_model

torch = pytest.importorskip("torch")


def _decode(model, cache, steps: int):
    """Logits of a prompt, then of ``steps`` greedy steps at batch 3 with a row dropped and a crop on the way."""
    seen = []
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([[5, 6, 7, 8, 9]]), cache=cache, use_cache=True).logits[:, -1]
        seen.append(logits)
        cache.crop(-1)  # forget the last prompt token and run it again, as a reused prompt prefix does
        logits = model(input_ids=torch.tensor([[9]]), cache=cache, use_cache=True).logits[:, -1]
        seen.append(logits)
        cache.batch_repeat_interleave(3)
        token = logits.argmax(-1).repeat(3)
        for step in range(steps):
            if step == steps // 2:
                cache.batch_select_indices(torch.tensor([0, 2]))
                token = token[[0, 2]]
            logits = model(input_ids=token[:, None], cache=cache, use_cache=True).logits[:, -1]
            seen.append(logits)
            token = logits.argmax(-1)
    return seen


def test_decoding_with_the_growing_cache_equals_the_dynamic_cache_bit_for_bit(tiny_model_dir):
    from transformers import DynamicCache

    model = load_model(tiny_model_dir, device="cpu").model
    steps = GROWTH + 10  # past the first buffer's room, so it is reallocated once on the way
    expected = _decode(model, DynamicCache(), steps)
    got = _decode(model, growing_cache(), steps)
    assert len(got) == len(expected)
    assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))


def test_steps_are_written_into_the_buffer_without_copying_the_cache(tiny_model_dir):
    model = load_model(tiny_model_dir, device="cpu").model
    cache = growing_cache()
    with torch.inference_mode():
        model(input_ids=torch.tensor([[5, 6, 7]]), cache=cache, use_cache=True)
        model(input_ids=torch.tensor([[8]]), cache=cache, use_cache=True)
        first = cache.layers[0].keys.data_ptr()
        for token in range(10, 20):
            model(input_ids=torch.tensor([[token]]), cache=cache, use_cache=True)
        assert cache.layers[0].keys.data_ptr() == first
        assert cache.get_seq_length() == 14
        # A deep copy (the kept prompt cache) owns its memory: writing to the copy leaves the original alone.
        before = cache.layers[0].keys.clone()
        copied = copy.deepcopy(cache)
        copied.crop(-4)
        model(input_ids=torch.tensor([[30, 31, 32, 33]]), cache=copied, use_cache=True)
        assert torch.equal(cache.layers[0].keys, before)
