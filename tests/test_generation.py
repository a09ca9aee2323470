"""The decode loop: k candidates in one batch, stop rules, streaming, cancellation, prompt-cache reuse, timings."""

from __future__ import annotations

import threading

import pytest

from model_runtime import prefill
from model_runtime.edits import resolve
from model_runtime.generation import Cancelled, generate
from model_runtime.loading import load_model
from tests.support.tiny_model import KNOWN_EDITS, KNOWN_INSTRUCTION, KNOWN_PROGRAM, prompt_for_state


@pytest.fixture
def loaded(tiny_model_dir):
    model = load_model(tiny_model_dir, device="cpu")
    model.prompt_cache = None
    return model


def test_greedy_decoding_reproduces_the_known_next_edit_and_stops_at_the_separator(loaded):
    result = generate(loaded, prompt_for_state(2), temperature=0)
    (candidate,) = result.candidates
    assert candidate.text == KNOWN_EDITS[2]
    assert candidate.finish == "stop"
    assert candidate.token_ids[-1] == loaded.diff_token_id


def test_a_text_named_not_first_never_begins_a_candidate(loaded):
    greedy = generate(loaded, prompt_for_state(2), temperature=0).candidates[0]
    banned = generate(loaded, prompt_for_state(2), temperature=0, not_first=(KNOWN_EDITS[2],)).candidates[0]
    assert banned.token_ids[0] != greedy.token_ids[0] and banned.text != greedy.text


def test_k_candidates_come_from_one_call(loaded):
    result = generate(loaded, prompt_for_state(2), k=4, temperature=0.8, seed=1)
    assert len(result.candidates) == 4
    assert all(c.text == KNOWN_EDITS[2] for c in result.candidates)


def test_sequence_mode_runs_to_the_end_of_the_sequence(loaded):
    result = generate(
        loaded, KNOWN_INSTRUCTION + "\n<|diff|>", k=2, stop="sequence", max_new_tokens=400, seed=0
    )
    for candidate in result.candidates:
        assert candidate.finish in ("stop", "eos")
        assert resolve(KNOWN_INSTRUCTION + "\n<|diff|>" + candidate.text) == KNOWN_PROGRAM


@pytest.mark.parametrize("k", [1, 2])  # k = 1 decodes speculatively, k = 2 in a batch: the same rule in both
def test_line_stop_sees_each_completed_line_and_ends_the_candidate_after_the_one_it_rules_out(loaded, k):
    full = KNOWN_EDITS[2].split("\n")
    assert len(full) >= 3
    seen: list[list[str]] = []

    def second_line_rules_out(lines: list[str]) -> bool:
        seen.append(list(lines))
        return len(lines) == 2

    result = generate(loaded, prompt_for_state(2), k=k, temperature=0, line_stop=second_line_rules_out)
    for candidate in result.candidates:
        assert candidate.finish == "stop"
        assert candidate.text.rstrip("\n") == "\n".join(full[:2])  # kept as written, up to that line's end
    assert full[:1] in seen and full[:2] in seen and max(map(len, seen)) == 2  # each line once, none after


def test_max_new_tokens_cuts_a_candidate_short(loaded):
    (candidate,) = generate(loaded, prompt_for_state(2), temperature=0, max_new_tokens=5).candidates
    assert candidate.finish == "length"
    assert len(candidate.token_ids) == 5
    assert candidate.text == KNOWN_EDITS[2][:5]


def test_streaming_delivers_each_candidates_text_as_it_grows(loaded):
    pieces: dict[int, str] = {0: "", 1: ""}

    def on_token(index: int, piece: str) -> None:
        pieces[index] += piece

    generate(loaded, prompt_for_state(2), k=2, temperature=0, on_token=on_token)
    assert pieces[0] == pieces[1] == KNOWN_EDITS[2] + "\n<|diff|>"


def test_a_cancel_set_before_the_call_stops_it_before_any_forward_pass(loaded):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        generate(loaded, prompt_for_state(2), cancel=cancel)


def test_cancellation_stops_generation_within_one_decode_step(loaded):
    cancel = threading.Event()
    produced = []

    def on_token(index: int, piece: str) -> None:
        produced.append(piece)
        if len(produced) == 3:
            cancel.set()

    with pytest.raises(Cancelled):
        generate(loaded, prompt_for_state(2), temperature=0, cancel=cancel, on_token=on_token)
    assert len(produced) == 3


class SetAfter:
    """A cancel flag that turns set on its ``n``-th check."""

    def __init__(self, n: int) -> None:
        self.n, self.checks = n, 0

    def is_set(self) -> bool:
        self.checks += 1
        return self.checks >= self.n


def test_a_prompt_run_in_chunks_decodes_as_in_one_pass(loaded, monkeypatch):
    whole = generate(loaded, prompt_for_state(2), temperature=0)
    loaded.prompt_cache = None
    monkeypatch.setattr(prefill, "PREFILL_CHUNK", 3)
    chunked = generate(loaded, prompt_for_state(2), temperature=0)
    assert chunked.prompt_tokens > 3 * 2
    assert chunked.candidates[0].token_ids == whole.candidates[0].token_ids


def test_cancelling_a_prefill_stops_between_chunks_and_keeps_the_chunks_that_ran(loaded, monkeypatch):
    monkeypatch.setattr(prefill, "PREFILL_CHUNK", 3)
    prompt = prompt_for_state(2)
    ids = loaded.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    with pytest.raises(Cancelled):
        generate(
            loaded, prompt, temperature=0, cancel=SetAfter(3)
        )  # two chunks run, the third check stops it
    assert loaded.prompt_cache.get(None).ids == ids[:6]
    again = generate(loaded, prompt, temperature=0)
    assert again.reused_prompt_tokens == 6
    assert again.candidates[0].text == KNOWN_EDITS[2]


def test_a_repeated_prompt_reuses_its_kv_cache_and_decodes_the_same(loaded):
    first = generate(loaded, prompt_for_state(2), temperature=0)
    again = generate(loaded, prompt_for_state(2), temperature=0)
    assert again.reused_prompt_tokens == again.prompt_tokens
    assert again.candidates[0].token_ids == first.candidates[0].token_ids


def test_a_prompt_sharing_a_prefix_runs_only_its_new_tokens(loaded):
    generate(loaded, KNOWN_INSTRUCTION + "\n<|diff|>", temperature=0, max_new_tokens=2)
    result = generate(loaded, prompt_for_state(2), temperature=0)
    fresh = len(loaded.tokenizer(KNOWN_INSTRUCTION + "\n<|diff|>", add_special_tokens=False)["input_ids"])
    assert result.reused_prompt_tokens == fresh
    assert result.candidates[0].text == KNOWN_EDITS[2]


def test_the_same_seed_samples_the_same_candidates(loaded):
    a = generate(loaded, KNOWN_INSTRUCTION + "\n<|diff|>", k=3, temperature=1.5, max_new_tokens=30, seed=7)
    b = generate(loaded, KNOWN_INSTRUCTION + "\n<|diff|>", k=3, temperature=1.5, max_new_tokens=30, seed=7)
    assert [c.token_ids for c in a.candidates] == [c.token_ids for c in b.candidates]


def test_timings_count_every_generated_token(loaded):
    result = generate(loaded, prompt_for_state(2), k=2, temperature=0)
    timings = result.timings
    assert timings.new_tokens == sum(len(c.token_ids) for c in result.candidates)
    assert 0 < timings.first_token_s <= timings.total_s
    assert timings.tokens_per_s == pytest.approx(timings.new_tokens / timings.total_s)


def test_bad_arguments_are_refused(loaded):
    with pytest.raises(ValueError, match="at least 1"):
        generate(loaded, "x", k=0)
    with pytest.raises(ValueError, match="unknown stop mode"):
        generate(loaded, "x", stop="line")
