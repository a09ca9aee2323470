"""A smaller model as the drafter: the target's greedy output is unchanged whatever the draft proposes, a draft that
agrees is accepted, and the draft model's cache follows the text across rejections."""

from __future__ import annotations

import pytest

from model_runtime.draft_model import LookupThenModel, ModelDraft
from model_runtime.generation import generate
from model_runtime.loading import load_model
from model_runtime.speculation import PromptLookup
from tests.support import tiny_model
from tests.support.tiny_model import KNOWN_INSTRUCTION, prompt_for_state

torch = pytest.importorskip("torch")

SEQUENCE_PROMPT = KNOWN_INSTRUCTION + "\n<|diff|>"


def _load(directory, reload=False):
    loaded = load_model(directory, device="cpu", quantize="none", reload=reload)
    loaded.prompt_cache = None
    return loaded


@pytest.fixture(scope="module")
def target(tiny_model_dir):
    return _load(tiny_model_dir)


@pytest.fixture(scope="module")
def twin(tiny_model_dir, target):
    """The same weights loaded again (a second object: each model has its own lock): a draft model that always
    agrees."""
    twin = _load(tiny_model_dir, reload=True)
    assert twin is not target
    return twin


@pytest.fixture(scope="module")
def stranger(tmp_path_factory):
    """A tiny model trained on other text: a draft model that mostly disagrees."""
    prompt = "Write other.\n<|diff|>"
    text = prompt + "def other(y):\n    return y * 3\n" + tiny_model.EOS
    directory = tiny_model.build(
        tmp_path_factory.mktemp("stranger"), [text], prompts=[prompt], seed=1, max_steps=200
    )
    return _load(directory)


def _greedy(target, **options):
    result = generate(target, SEQUENCE_PROMPT, temperature=0, stop="sequence", max_new_tokens=200, **options)
    return result.candidates[0].token_ids, result.timings


@pytest.mark.parametrize("drafter", ["twin", "stranger"])
@pytest.mark.parametrize("after_lookup", [True, False])
def test_greedy_output_is_unchanged_token_for_token_with_a_draft_model(
    request, target, drafter, after_lookup
):
    plain, _ = _greedy(target, speculate=0)
    draft = request.getfixturevalue(drafter)
    drafted, timings = _greedy(target, draft=draft, draft_after_lookup=after_lookup)
    assert drafted == plain
    assert timings.drafted_tokens > 0


def test_the_target_cannot_draft_for_itself(target):
    with pytest.raises(ValueError, match="draft model"):
        _greedy(target, draft=target)


def test_a_draft_model_that_agrees_has_its_drafts_accepted(target, twin):
    _, timings = _greedy(target, draft=twin, draft_after_lookup=False)
    assert timings.accepted_draft_tokens / timings.drafted_tokens > 0.9


def test_the_draft_cache_follows_the_text_after_a_rejection(twin):
    ids = twin.tokenizer(prompt_for_state(2), add_special_tokens=False)["input_ids"]
    kept = ModelDraft(twin, 4)
    first = kept.get_candidates(ids)
    assert len(first) == 4
    # The target kept one draft token and chose another token after it: the cache is cropped back, not rebuilt.
    changed = [*ids, first[0], (first[1] + 1) % len(twin.tokenizer)]
    assert kept.get_candidates(changed) == ModelDraft(twin, 4).get_candidates(changed)


def test_the_draft_length_adapts_to_acceptance(twin):
    drafter = ModelDraft(twin, 4)
    drafter.update(4, 1)
    drafter.update(3, 0)
    assert drafter.draft_length == 2
    drafter.update(2, 2)
    assert drafter.draft_length == 3
    with pytest.raises(ValueError):
        ModelDraft(twin, 0)


def test_lookup_drafts_first_and_the_model_only_where_lookup_has_nothing(twin):
    ids = twin.tokenizer(prompt_for_state(2), add_special_tokens=False)["input_ids"]
    chained = LookupThenModel(PromptLookup(4), ModelDraft(twin, 4))
    repeated = [*ids, *ids[:5]]  # the last three tokens occur earlier: lookup drafts what followed them
    assert chained.get_candidates(repeated) == PromptLookup(4).get_candidates(repeated)
    assert chained._last is chained.lookup
    fresh = [7, 8, 9]  # no earlier occurrence: the model drafts
    assert chained.get_candidates(fresh) == ModelDraft(twin, 4).get_candidates(fresh)
    assert chained._last is chained.model


def test_the_draft_length_can_be_set_for_a_block(target, twin):
    from model_runtime.draft_model import DEFAULT_MODEL_DRAFT, draft_length, drafter_for

    def made():
        return drafter_for(target, PromptLookup(4), twin, None, None, lookup_first=False).num_draft

    with draft_length(7):
        assert made() == 7
    assert made() == DEFAULT_MODEL_DRAFT


def test_a_draft_model_must_share_the_tokenizer(target, stranger):
    from model_runtime.draft_model import drafter_for

    class Other:
        tokenizer = [0] * (len(target.tokenizer) + 1)

    with pytest.raises(ValueError, match="tokenizer"):
        drafter_for(target, PromptLookup(4), Other(), None, None)
    assert drafter_for(target, PromptLookup(4), stranger, None, None) is not None
