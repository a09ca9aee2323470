"""Prompt caches per document: each key keeps its own prefix, the least recently used goes first past the bounds."""

from __future__ import annotations

import pytest

from model_runtime.generation import generate
from model_runtime.loading import load_model
from model_runtime.prompt_cache import CachedPrompt, PromptCache
from tests.support.tiny_model import KNOWN_EDITS, KNOWN_INSTRUCTION, KNOWN_STATES, prompt_for_state

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def loaded(tiny_model_dir):
    model = load_model(tiny_model_dir, device="cpu")
    model.prompt_cache = None
    return model


def entry(tokens: int) -> CachedPrompt:
    return CachedPrompt(list(range(tokens)), cache=None, logits=None)


def test_entries_past_the_bound_drop_the_least_recently_used():
    cache = PromptCache(max_entries=2)
    cache.put("a", entry(3))
    cache.put("b", entry(3))
    cache.get("a")  # a is now more recent than b
    cache.put("c", entry(3))
    assert cache.keys() == ["a", "c"]
    assert cache.get("b") is None


def test_tokens_past_the_bound_drop_the_oldest_but_never_the_newest():
    cache = PromptCache(max_entries=4, max_tokens=10)
    cache.put("a", entry(4))
    cache.put("b", entry(4))
    cache.put("c", entry(4))
    assert cache.keys() == ["b", "c"] and cache.tokens == 8
    cache.put("huge", entry(50))
    assert cache.keys() == ["huge"]


def test_a_key_put_again_replaces_its_entry():
    cache = PromptCache()
    cache.put(None, entry(3))
    cache.put(None, entry(5))
    assert len(cache) == 1 and len(cache.get(None).ids) == 5


# Through generate: a document's prefix survives requests for other documents.

DOC_A = KNOWN_INSTRUCTION + "\n<|diff|>"
DOC_B = "x = 1\n" * 6 + "<|diff|>"


def _tokens(loaded, text: str) -> int:
    return len(loaded.tokenizer(text, add_special_tokens=False)["input_ids"])


def test_two_documents_interleaved_each_reuse_their_own_prefix(loaded):
    generate(loaded, DOC_A, temperature=0, max_new_tokens=2, cache_key="a.py")
    generate(loaded, DOC_B, temperature=0, max_new_tokens=2, cache_key="b.py")
    again_a = generate(loaded, prompt_for_state(2), temperature=0, cache_key="a.py")
    again_b = generate(loaded, DOC_B + "y", temperature=0, max_new_tokens=2, cache_key="b.py")
    assert again_a.reused_prompt_tokens == _tokens(loaded, DOC_A)
    assert again_a.candidates[0].text == KNOWN_EDITS[2]
    assert again_b.reused_prompt_tokens == _tokens(loaded, DOC_B)


def test_one_shared_slot_loses_a_documents_prefix_to_the_other(loaded):
    generate(loaded, DOC_A, temperature=0, max_new_tokens=2)
    generate(loaded, DOC_B, temperature=0, max_new_tokens=2)
    again_a = generate(loaded, prompt_for_state(2), temperature=0)
    assert again_a.reused_prompt_tokens == 0


def test_a_document_evicted_past_the_bound_runs_its_prompt_again(loaded):
    loaded.prompt_cache = PromptCache(max_entries=2)
    for key, text in [("a", DOC_A), ("b", DOC_B), ("c", DOC_B + "z")]:
        generate(loaded, text, temperature=0, max_new_tokens=1, cache_key=key)
    assert loaded.prompt_cache.keys() == ["b", "c"]
    again = generate(loaded, DOC_A, temperature=0, max_new_tokens=1, cache_key="a")
    assert again.reused_prompt_tokens == 0
    assert loaded.prompt_cache.keys() == ["c", "a"]


def test_the_kept_cache_is_not_changed_by_the_decoding_that_follows(loaded):
    first = generate(loaded, prompt_for_state(2), temperature=0, cache_key="a")
    kept = loaded.prompt_cache.get("a")
    assert kept.ids == loaded.tokenizer(prompt_for_state(2), add_special_tokens=False)["input_ids"]
    assert kept.cache.get_seq_length() == len(kept.ids)
    again = generate(loaded, prompt_for_state(2), temperature=0, cache_key="a")
    assert again.candidates[0].token_ids == first.candidates[0].token_ids


def test_suggest_keeps_each_documents_prompt_under_its_key(loaded):
    from model_runtime.suggestions import suggest

    buffer = KNOWN_STATES[1]
    suggest(loaded, buffer, instruction=KNOWN_INSTRUCTION, k=1, temperature=0, cache_key="file:///a.py")
    suggest(loaded, "x = 1\n", k=1, temperature=0, max_new_tokens=4, cache_key="file:///b.py")
    assert loaded.prompt_cache.keys() == ["file:///a.py", "file:///b.py"]
    again = suggest(
        loaded, buffer, instruction=KNOWN_INSTRUCTION, k=1, temperature=0, cache_key="file:///a.py"
    )
    first = loaded.prompt_cache.get("file:///a.py")
    assert again.suggestions and again.suggestions[0].program == KNOWN_STATES[2]
    assert first.ids  # the document's prompt is still there after the other document's request
