"""Running a prompt: its KV cache reused from the last prompt kept for the same key (a document), the new tokens
run ``PREFILL_CHUNK`` at a time so that a cancel never waits for a whole prompt, and the model's forward pass."""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Hashable
from typing import Any

from model_runtime.cancellation import CancelFlag, Cancelled, check
from model_runtime.loading import LoadedModel
from model_runtime.prompt_cache import CachedPrompt, PromptCache

# Prompt tokens per prefill forward pass: cancellation is checked between chunks. On the 2-core CPU, for 1,000- and
# 2,000-token SmolLM2-135M prompts, 256-token chunks cut the wait for a cancel from 0.5-1.1 s to 0.2-0.4 s (p50),
# prefilling between 7 % faster and 13 % slower than one pass; 128-token chunks wait less but prefill 14-47 % slower
# (benchmarks/prefill_chunks.py, two runs).
PREFILL_CHUNK = 256


def prompt_store(loaded: LoadedModel) -> PromptCache:
    """The model's prompt caches (``loaded.prompt_cache``; setting it to None clears them)."""
    if not isinstance(loaded.prompt_cache, PromptCache):
        loaded.prompt_cache = PromptCache()
    return loaded.prompt_cache


def prefill(
    loaded: LoadedModel, prompt_ids: list[int], cancel: CancelFlag, key: Hashable = None
) -> tuple[Any, Any, int]:
    """Logits after the prompt (batch 1) and a private copy of its KV cache, reusing the common prefix of the last
    prompt kept under ``key``.

    The new tokens run ``PREFILL_CHUNK`` at a time with ``cancel`` checked before each chunk; a cancelled prefill
    keeps what it ran as the stored prefix, so the next call for the same buffer starts from there.
    Returns (logits, cache, number of prompt tokens that did not need a forward pass).
    """
    import torch

    from model_runtime.kv_cache import growing_cache

    store = prompt_store(loaded)
    stored = store.get(key)
    reused = 0
    cache = growing_cache()
    logits = None
    if stored is not None:
        reused = common_prefix(stored.ids, prompt_ids)
        if reused == len(prompt_ids) == len(stored.ids):
            check(cancel)
            return stored.logits.clone(), copy.deepcopy(stored.cache), reused
        reused = min(reused, len(prompt_ids) - 1)  # at least one token must run to give the next logits
        if reused > 0:
            cache = copy.deepcopy(stored.cache)
            cache.crop(reused - len(stored.ids)) if len(stored.ids) > reused else None
    done = reused
    while done < len(prompt_ids):
        if cancel.is_set():
            if done > reused:  # keep the chunks that ran; the cache is ours, nobody else holds it
                store.put(key, CachedPrompt(list(prompt_ids[:done]), cache, logits))
            raise Cancelled("generation was cancelled")
        chunk = prompt_ids[done : done + PREFILL_CHUNK]
        logits = forward(loaded.model, torch.tensor([chunk], device=loaded.device), cache)
        done += len(chunk)
    store.put(key, CachedPrompt(list(prompt_ids), copy.deepcopy(cache), logits.clone()))
    return logits, cache, reused


def forward(model, input_ids, cache):
    """Next-token logits (float32) of the last position; ``cache`` is extended in place."""
    return logits_of(model, input_ids, cache, keep=1)[:, -1, :]


def logits_of(model, input_ids, cache, *, keep: int):
    """Logits (float32) of the last ``keep`` positions, shape (batch, keep, vocabulary); ``cache`` is extended."""
    # transformers 5 renamed the argument to ``cache``; models written for older versions still take the old name.
    arguments = forward_arguments(type(model))
    extra = {"logits_to_keep": keep} if "logits_to_keep" in arguments else {}
    # logits_to_keep: the prompt's other positions need no vocabulary projection (a 300-token SmolLM2 prompt
    # spends about 8 GFLOP on logits nobody reads).
    out = model(input_ids=input_ids, use_cache=True, **{cache_argument(type(model)): cache}, **extra)
    return out.logits[:, -keep:, :].float()


@functools.lru_cache(maxsize=16)
def forward_arguments(model_class: type) -> frozenset[str]:
    return frozenset(inspect.signature(model_class.forward).parameters)


def cache_argument(model_class: type) -> str:
    return "cache" if "cache" in forward_arguments(model_class) else "past_key_values"


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
