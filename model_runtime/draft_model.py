"""Speculative decoding with a smaller model of the same family as the drafter (the 0.5B drafting for the 1.5B).

``ModelDraft`` has the drafter shape of ``speculation.PromptLookup`` (``get_candidates(ids)``, then
``update(drafted, accepted)``), so ``generation``'s exact verification loop is unchanged: whatever the draft
proposes, the target model keeps only what it would have produced itself (greedy: the same tokens; sampling: the
same distribution). The draft model decodes greedily from its own KV cache, which follows the text across calls:
after a rejection it is cropped back to the tokens both models agree on, so each call runs only the tokens it has
not seen. Its first call prefills the prompt through the draft model's own prompt cache (``prefill``), so a prompt
that extends the last one for the same document costs the draft model only its new tokens too.

``LookupThenModel`` drafts from prompt lookup when the text is being copied (free: no forward pass) and asks the
draft model only when lookup finds nothing. Measured in ``benchmarks/speculative_decoding.py --draft-model``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Hashable, Iterator, Sequence

from model_runtime.cancellation import CancelFlag
from model_runtime.loading import LoadedModel
from model_runtime.prefill import PREFILL_CHUNK, common_prefix, forward, prefill
from model_runtime.speculation import next_draft_length

# Most tokens the draft model proposes per verification pass. Qwen2.5-Coder-0.5B drafting for the 1.5B, int8 both,
# 2 threads, 3 rewrite prompts (benchmarks/draft_length.py): 2 drafts 12.0 tokens/s against 9.1 plain (1.32x), 4
# drafts 10.6, 8 drafts 11.0, every draft kept. A draft token costs about half a target step on this CPU (drafting
# took 14.1 s, verifying 17.6 s at length 2), so longer drafts do not pay (docs/speed.md).
DEFAULT_MODEL_DRAFT = 2
_draft_length = [DEFAULT_MODEL_DRAFT]  # what drafter_for uses; draft_length() changes it for a block


@contextlib.contextmanager
def draft_length(tokens: int) -> Iterator[None]:
    """Within the block, draft models propose up to ``tokens`` tokens per pass (for measuring; not thread-safe)."""
    _draft_length.append(tokens)
    try:
        yield
    finally:
        _draft_length.pop()


class ModelDraft:
    """Greedy drafts of ``draft`` (a model sharing the target's tokenizer), ``draft_length`` tokens at a time,
    adapted as ``PromptLookup``'s: one more after a draft kept whole, one fewer after a rejection."""

    def __init__(
        self,
        draft: LoadedModel,
        num_draft: int = DEFAULT_MODEL_DRAFT,
        *,
        cancel: CancelFlag | None = None,
        cache_key: Hashable = None,
    ) -> None:
        if num_draft < 1:
            raise ValueError("num_draft must be at least 1")
        self.draft = draft
        self.num_draft = num_draft
        self.draft_length = num_draft
        self.cancel = cancel
        self.cache_key = cache_key
        self._ids: list[int] = []  # the tokens the draft cache holds
        self._cache = None

    def get_candidates(self, ids: Sequence[int]) -> list[int]:
        import torch

        ids = list(ids)
        if not ids:
            return []
        with self.draft.lock, torch.inference_mode():
            if self._cache is None:
                logits, self._cache, _ = prefill(
                    self.draft, ids, self.cancel or threading.Event(), self.cache_key
                )
            else:
                logits = self._catch_up(ids)
            self._ids = ids
            proposed: list[int] = []
            for position in range(self.draft_length):
                token = int(logits[0].argmax())
                proposed.append(token)
                # The last token's forward pass would only serve the next call: it runs then (``_catch_up``).
                if position + 1 < self.draft_length:
                    logits = forward(
                        self.draft.model, torch.tensor([[token]], device=self.draft.device), self._cache
                    )
                    self._ids.append(token)
        return proposed

    def _catch_up(self, ids: list[int]):
        """Crop the draft cache to what it shares with ``ids`` and run the rest; the logits after ``ids``."""
        import torch

        # At least one token runs, for the next logits.
        keep = min(common_prefix(self._ids, ids), len(ids) - 1)
        if keep < len(self._ids):
            self._cache.crop(keep - len(self._ids))
        logits = None
        for start in range(keep, len(ids), PREFILL_CHUNK):
            chunk = ids[start : start + PREFILL_CHUNK]
            logits = forward(self.draft.model, torch.tensor([chunk], device=self.draft.device), self._cache)
        return logits

    def update(self, drafted: int, accepted: int) -> None:
        self.draft_length = next_draft_length(
            self.draft_length, drafted, accepted, most=self.num_draft, grow=1
        )


class LookupThenModel:
    """Prompt lookup's draft when it has one, else the draft model's; ``update`` goes to the one that drafted."""

    def __init__(self, lookup, model: ModelDraft) -> None:
        self.lookup = lookup
        self.model = model
        self._last = lookup

    def get_candidates(self, ids: Sequence[int]) -> list[int]:
        drafted = self.lookup.get_candidates(ids)
        self._last = self.lookup
        if not drafted:
            drafted = self.model.get_candidates(ids)
            self._last = self.model
        return drafted

    def update(self, drafted: int, accepted: int) -> None:
        self._last.update(drafted, accepted)


def drafter_for(
    target: LoadedModel,
    lookup,
    draft: LoadedModel | None,
    cancel: CancelFlag,
    cache_key: Hashable,
    lookup_first: bool = True,
):
    """The drafter ``generation`` uses for ``target``: ``lookup`` alone without a draft model, else the draft model
    (after lookup when ``lookup_first``)."""
    if draft is None:
        return lookup
    if draft is target:  # it would wait on its own lock
        raise ValueError("the draft model must be another model than the one it drafts for")
    if len(draft.tokenizer) != len(target.tokenizer):
        raise ValueError(
            f"the draft model's tokenizer ({len(draft.tokenizer)} tokens) is not the target's "
            f"({len(target.tokenizer)} tokens): a draft model must share the target's tokenizer"
        )
    model = ModelDraft(draft, _draft_length[-1], cancel=cancel, cache_key=cache_key)
    return LookupThenModel(lookup, model) if lookup_first else model
