"""Speculative decoding from prompt lookup: the drafter, the acceptance rules, and a decode loop that gives the same
output (greedy: token for token; sampling: the same distribution) with every stop rule intact."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from types import SimpleNamespace

import pytest

from model_runtime import generation
from model_runtime.generation import Cancelled, draft_tokens, generate
from model_runtime.loading import LoadedModel, load_model
from model_runtime.speculation import PromptLookup, accept_greedy, accept_sampled
from tests.support import tiny_model
from tests.support.tiny_model import KNOWN_EDITS, KNOWN_INSTRUCTION, KNOWN_PROGRAM, prompt_for_state

torch = pytest.importorskip("torch")

# A prompt whose answer repeats it: the copy model writes the program again after the separator.
COPY_PROMPT = KNOWN_PROGRAM + "\n<|diff|>"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run faster on one thread, and far faster than on two when other work holds the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def copy_model_dir(tmp_path_factory):
    """A tiny Llama trained to answer ``COPY_PROMPT`` with the program it holds, then eos."""
    return tiny_model.build(
        tmp_path_factory.mktemp("copy-model"), [COPY_PROMPT + KNOWN_PROGRAM + tiny_model.EOS]
    )


@pytest.fixture(params=["none", "int8"])
def copier(copy_model_dir, request):
    loaded = load_model(copy_model_dir, device="cpu", quantize=request.param)
    loaded.prompt_cache = None
    return loaded


@pytest.fixture
def loaded(tiny_model_dir):
    model = load_model(tiny_model_dir, device="cpu")
    model.prompt_cache = None
    return model


# The drafter.


def test_the_tokens_after_the_last_trigrams_earlier_occurrence_are_drafted():
    drafter = PromptLookup(4)
    assert drafter.get_candidates([1, 2, 3, 4, 5, 6, 7, 9, 1, 2, 3]) == [4, 5, 6, 7]


def test_by_default_a_match_of_fewer_than_three_tokens_drafts_nothing():
    assert PromptLookup(4).get_candidates([1, 2, 3, 4, 5, 6, 7, 9, 2, 3]) == []
    assert PromptLookup(4, min_ngram=1).get_candidates([1, 2, 3, 4, 5, 6, 7, 9, 2, 3]) == [4, 5, 6, 7]


def test_the_longest_ngram_with_an_earlier_occurrence_wins():
    # "3" alone last occurred before 8; the bigram "2 3" occurred before 4.
    drafter = PromptLookup(2, max_ngram=3, min_ngram=1)
    assert drafter.get_candidates([2, 3, 4, 5, 3, 8, 9, 2, 3]) == [4, 5]


def test_among_equal_ngrams_the_one_with_the_longer_matching_context_wins():
    # "a b c" occurs twice; the second is preceded by "x", as the current position is.
    a, b, c, x, y = 1, 2, 3, 4, 5
    drafter = PromptLookup(1)
    assert drafter.get_candidates([y, a, b, c, 10, x, a, b, c, 20, 30, x, a, b, c]) == [20]


def test_nothing_is_drafted_without_an_earlier_occurrence():
    assert PromptLookup().get_candidates([1, 2, 3, 4, 5, 6]) == []
    assert PromptLookup(min_ngram=1).get_candidates([7]) == []


def test_the_draft_shrinks_after_rejections_and_grows_back_after_full_acceptance():
    drafter = PromptLookup(6)
    ids = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3]
    assert len(drafter.get_candidates(ids)) == 6
    drafter.update(6, 2)
    drafter.update(5, 0)
    assert len(drafter.get_candidates(ids)) == 4
    drafter.update(4, 4)
    assert len(drafter.get_candidates(ids)) == 6


def test_a_text_that_changed_is_indexed_afresh():
    drafter = PromptLookup(2)
    assert drafter.get_candidates([1, 2, 3, 4, 5, 1, 2, 3]) == [4, 5]
    assert drafter.get_candidates([5, 6, 7, 8, 9, 5, 6, 7]) == [8, 9]


# The acceptance rules.


def test_greedy_acceptance_keeps_the_agreeing_prefix_and_the_models_next_token():
    logits = torch.full((4, 10), -1.0)
    for row, best in enumerate([4, 5, 9, 7]):
        logits[row, best] = 1.0
    assert accept_greedy(logits, [4, 5, 6]) == [4, 5, 9]
    assert accept_greedy(logits[:3], [4, 5]) == [4, 5, 9]  # all accepted: the bonus token follows
    assert accept_greedy(logits[:2], [0]) == [4]


def test_sampled_acceptance_draws_the_first_token_from_the_target_distribution():
    p = torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.1, 0.2, 0.3, 0.4]])
    generator = torch.Generator().manual_seed(0)
    draws = 20_000
    counts = Counter(accept_sampled(p, [1], generator)[0] for _ in range(draws))
    observed = torch.tensor([counts[t] / draws for t in range(4)])
    torch.testing.assert_close(observed, p[0], atol=0.015, rtol=0)


def test_sampled_acceptance_continues_from_the_next_row_only_after_keeping_the_draft():
    p = torch.tensor([[0.25, 0.75], [0.9, 0.1]])
    generator = torch.Generator().manual_seed(1)
    outcomes = Counter(tuple(accept_sampled(p, [1], generator)) for _ in range(20_000))
    assert set(outcomes) == {(0,), (1, 0), (1, 1)}
    assert outcomes[(0,)] / 20_000 == pytest.approx(0.25, abs=0.015)
    assert outcomes[(1, 0)] / 20_000 == pytest.approx(0.75 * 0.9, abs=0.015)


# The decode loop: greedy output unchanged.


def test_greedy_output_is_the_same_token_for_token_and_most_drafts_are_accepted(copier):
    plain = generate(copier, COPY_PROMPT, temperature=0, stop="eos", max_new_tokens=200, speculate=0)
    fast = generate(copier, COPY_PROMPT, temperature=0, stop="eos", max_new_tokens=200, speculate=10)
    assert plain.candidates[0].text == KNOWN_PROGRAM
    assert fast.candidates[0].token_ids == plain.candidates[0].token_ids
    assert fast.candidates[0].finish == "eos"
    assert fast.candidates[0].logprobs == pytest.approx(plain.candidates[0].logprobs, abs=1e-4)
    assert plain.timings.drafted_tokens == 0
    assert fast.timings.accepted_draft_tokens > len(plain.candidates[0].token_ids) / 2


@pytest.mark.parametrize("stop", ["edit", "sequence"])
def test_the_known_model_writes_the_same_edits_with_speculation(loaded, stop):
    prompt = prompt_for_state(2) if stop == "edit" else KNOWN_INSTRUCTION + "\n<|diff|>"
    plain = generate(loaded, prompt, temperature=0, stop=stop, max_new_tokens=400, speculate=0)
    fast = generate(loaded, prompt, temperature=0, stop=stop, max_new_tokens=400)
    _assert_same_candidate(fast.candidates[0], plain.candidates[0])
    assert fast.timings.accepted_draft_tokens > 0


def _assert_same_candidate(got, expected) -> None:
    assert (got.text, got.token_ids, got.finish) == (expected.text, expected.token_ids, expected.finish)
    # fp32 rows of one pass round differently from one-row steps, by about 1e-6.
    assert got.logprobs == pytest.approx(expected.logprobs, abs=1e-4)


class Oracle:
    """A drafter that knows the answer: it drafts the reference continuation and then junk past its end, so every
    stop falls inside an accepted draft."""

    reference: list[int] = []

    def __init__(self, num_draft: int) -> None:
        self.num_draft = num_draft

    def get_candidates(self, ids):
        ahead = self.reference[len(ids) :] if self.reference[: len(ids)] == list(ids) else []
        return (ahead + [3] * self.num_draft)[: self.num_draft]

    def update(self, drafted: int, accepted: int) -> None:
        pass


def _with_oracle(monkeypatch, loaded, prompt, **options):
    """(plain result, speculative result drafted by the oracle) of the same call."""
    plain = generate(loaded, prompt, temperature=0, speculate=0, **options)
    Oracle.reference = loaded.tokenizer(prompt, add_special_tokens=False)["input_ids"] + list(
        plain.candidates[0].token_ids
    )
    monkeypatch.setattr(generation, "PromptLookup", Oracle)
    return plain, generate(loaded, prompt, temperature=0, speculate=8, **options)


@pytest.mark.parametrize(
    "options",
    [
        {"stop": "edit"},  # ends at <|diff|>
        {"stop": "sequence", "max_new_tokens": 400},  # ends at the empty closing edit
        {"stop": "eos", "max_new_tokens": 400},  # ends at eos
        {"stop": "edit", "max_new_tokens": 11},  # ends at the length limit
        {"stop": "edit", "stop_texts": ("in xs",)},  # ends at a stop text
    ],
)
def test_a_stop_inside_an_accepted_draft_ends_the_candidate_there(monkeypatch, loaded, options):
    prompt = KNOWN_INSTRUCTION + "\n<|diff|>" if options["stop"] != "edit" else prompt_for_state(2)
    plain, fast = _with_oracle(monkeypatch, loaded, prompt, **options)
    _assert_same_candidate(fast.candidates[0], plain.candidates[0])
    assert fast.timings.new_tokens == plain.timings.new_tokens
    assert fast.timings.accepted_draft_tokens >= plain.timings.new_tokens // 2


def test_streaming_delivers_the_same_text_piece_by_piece(monkeypatch, loaded):
    pieces: dict[str, list[str]] = {"plain": [], "fast": []}
    plain = generate(
        loaded,
        prompt_for_state(2),
        temperature=0,
        speculate=0,
        on_token=lambda i, p: pieces["plain"].append(p),
    )
    Oracle.reference = loaded.tokenizer(prompt_for_state(2), add_special_tokens=False)["input_ids"] + list(
        plain.candidates[0].token_ids
    )
    monkeypatch.setattr(generation, "PromptLookup", Oracle)
    generate(loaded, prompt_for_state(2), temperature=0, on_token=lambda i, p: pieces["fast"].append(p))
    assert pieces["fast"] == pieces["plain"]
    assert "".join(pieces["fast"]) == KNOWN_EDITS[2] + "\n<|diff|>"


def test_a_cancel_during_an_accepted_draft_stops_before_the_next_token(monkeypatch, loaded):
    Oracle.reference = []
    _with_oracle(monkeypatch, loaded, prompt_for_state(2))  # sets the reference
    cancel = threading.Event()
    produced: list[str] = []

    def on_token(index: int, piece: str) -> None:
        produced.append(piece)
        if len(produced) == 3:
            cancel.set()

    with pytest.raises(Cancelled):
        generate(loaded, prompt_for_state(2), temperature=0, cancel=cancel, on_token=on_token)
    assert len(produced) == 3


def test_several_candidates_keep_the_batched_loop(loaded):
    result = generate(loaded, prompt_for_state(2), k=2, temperature=0)
    assert result.timings.drafted_tokens == 0
    assert [c.text for c in result.candidates] == [KNOWN_EDITS[2]] * 2


def test_speculation_is_on_by_default_and_the_environment_turns_it_off(monkeypatch, loaded):
    assert draft_tokens(None, {}) > 0
    assert draft_tokens(None, {"EDITSEQ_SPECULATE": "0"}) == 0
    assert draft_tokens(None, {"EDITSEQ_SPECULATE": "4"}) == 4
    assert draft_tokens(6, {"EDITSEQ_SPECULATE": "0"}) == 6
    with pytest.raises(ValueError, match="EDITSEQ_SPECULATE"):
        draft_tokens(None, {"EDITSEQ_SPECULATE": "many"})
    monkeypatch.setenv("EDITSEQ_SPECULATE", "0")
    assert generate(loaded, prompt_for_state(2), temperature=0).timings.drafted_tokens == 0


# The decode loop: sampling keeps its distribution.

A, B, C = 10, 11, 12  # the bigram model's only likely tokens
NEXT = {A: [0.6, 0.3, 0.1], B: [0.2, 0.5, 0.3], C: [0.3, 0.3, 0.4]}
OTHERWISE = [0.5, 0.3, 0.2]


class Bigram(torch.nn.Module):
    """A language model whose next-token distribution depends on the last token only (over A, B, C)."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        table = torch.full((vocab, vocab), -40.0)
        for token in range(vocab):
            table[token, [A, B, C]] = torch.tensor(NEXT.get(token, OTHERWISE)).log()
        self.register_buffer("table", table)
        self.config = SimpleNamespace(_attn_implementation="sdpa")

    def forward(self, input_ids, cache=None, use_cache=True, logits_to_keep=1):
        return SimpleNamespace(logits=self.table[input_ids][:, -logits_to_keep:])


def test_sampling_with_drafts_keeps_the_distribution_of_token_by_token_sampling(monkeypatch):
    tokenizer = tiny_model.build_tokenizer()
    loaded = LoadedModel(
        Bigram(len(tokenizer)), tokenizer, "cpu", torch.float32, "bigram", eos_token_ids=(2,)
    )

    class Fixed(Oracle):
        def get_candidates(self, ids):
            return [A, B][: self.num_draft]

    monkeypatch.setattr(generation, "PromptLookup", Fixed)
    draws = 6000
    outcomes = Counter(
        generate(loaded, "x", temperature=1.0, top_p=1.0, max_new_tokens=4, stop="eos", seed=seed)
        .candidates[0]
        .token_ids
        for seed in range(draws)
    )
    assert sum(outcomes.values()) == draws
    for tokens in itertools.product((A, B, C), repeat=4):
        p = OTHERWISE[tokens[0] - A]
        for before, after in itertools.pairwise(tokens):
            p *= NEXT[before][after - A]
        assert outcomes[tokens] / draws == pytest.approx(p, abs=0.015), tokens


def test_sampling_with_drafts_respects_the_nucleus(monkeypatch):
    tokenizer = tiny_model.build_tokenizer()
    loaded = LoadedModel(
        Bigram(len(tokenizer)), tokenizer, "cpu", torch.float32, "bigram", eos_token_ids=(2,)
    )

    class Fixed(Oracle):
        def get_candidates(self, ids):
            return [C, C][: self.num_draft]  # C is outside the nucleus after A: never kept there

    monkeypatch.setattr(generation, "PromptLookup", Fixed)
    seconds = Counter()
    for seed in range(3000):
        result = generate(loaded, "x", temperature=1.0, top_p=0.7, max_new_tokens=2, stop="eos", seed=seed)
        ids = result.candidates[0].token_ids
        if ids[0] == A:
            seconds[ids[1]] += 1
    total = sum(seconds.values())
    assert C not in seconds
    assert seconds[A] / total == pytest.approx(2 / 3, abs=0.04)
