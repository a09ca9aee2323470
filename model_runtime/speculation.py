"""Speculative decoding without a draft model: draft tokens copied from earlier in the text, and the exact rule
that accepts them.

An edit, a rewrite or a completed function mostly repeats text the prompt already holds, so the tokens that followed
the last few tokens' earlier occurrence are a good guess of what comes next ("prompt lookup", as transformers'
``PromptLookupCandidateGenerator``). The decode loop runs the guess and the token before it in one forward pass and
keeps the longest prefix the model agrees with, plus one token of the model's own; with greedy decoding the output
is the same token for token, with sampling it has the same distribution (``accept_sampled``). The drafter has the
shape of transformers' ``CandidateGenerator``: ``get_candidates(ids)``, then ``update(drafted, accepted)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DEFAULT_DRAFT = 10  # most tokens one pass verifies
# Earlier occurrences of an n-gram looked at, most recent first: a frequent token ("\n", "    ") occurs hundreds of
# times in a long prompt, and the recent ones are the likely continuation.
MAX_MATCHES = 32
# How far back two occurrences are compared to choose between them: the one whose longer context matches wins.
MAX_CONTEXT = 64


class PromptLookup:
    """Drafts the tokens that followed the best earlier occurrence of the latest n-gram (n = ``max_ngram`` down to
    ``min_ngram``).

    Among earlier occurrences of the longest n-gram that has one, the one preceded by the longest run of tokens equal
    to those before the current position wins (the most recent on ties), so a copy in progress keeps following its
    source instead of jumping to another line with the same three tokens. The draft length adapts as transformers'
    assistant "heuristic" schedule does: two more after a draft accepted whole, one fewer after a rejection, so
    text that is not being copied costs few wasted rows.

    ``min_ngram`` is 3, not transformers' 1: a verification row is not free on a CPU (one more row costs about 0.3
    of a decode step in int8, the first one a whole step in fp32, on the 2-core AVX2 machine), and drafts from one-
    or two-token matches were kept too rarely to pay for their rows. Replayed over the greedy outputs of
    ``benchmarks/speculative_decoding.py``'s six prompts with the measured row costs, going from n = 3..1 to n = 3
    took acceptance from 63 % to 88 % and the modelled decode speed-up from 1.53x to 1.69x (int8) and from 1.63x
    to 2.05x (fp32).
    """

    def __init__(
        self, num_draft: int = DEFAULT_DRAFT, *, max_ngram: int = 3, min_ngram: int = 3, min_draft: int = 1
    ) -> None:
        if num_draft < 1 or not 1 <= min_ngram <= max_ngram or not 1 <= min_draft <= num_draft:
            raise ValueError("need 1 <= min_ngram <= max_ngram and 1 <= min_draft <= num_draft")
        self.num_draft = num_draft
        self.max_ngram = max_ngram
        self.min_ngram = min_ngram
        self.min_draft = min_draft
        self.draft_length = num_draft
        self._ends: dict[tuple[int, ...], list[int]] = {}  # n-gram -> indices of its last token, ascending
        self._indexed: list[int] = []

    def get_candidates(self, ids: Sequence[int]) -> list[int]:
        """Draft tokens to follow ``ids`` (the prompt and the tokens generated so far); [] when nothing matches.

        ``ids`` is expected to grow by appending between calls, as in decoding; any other change re-indexes it.
        """
        self._index(ids)
        last = len(ids) - 1
        for n in range(min(self.max_ngram, last), self.min_ngram - 1, -1):
            ends = self._ends.get(tuple(ids[last - n + 1 :]), [])
            earlier = [end for end in reversed(ends[-MAX_MATCHES - 1 :]) if end < last][:MAX_MATCHES]
            if earlier:
                best = max(earlier, key=lambda end: _shared_context(ids, end, last))
                return list(ids[best + 1 : best + 1 + self.draft_length])
        return []

    def update(self, drafted: int, accepted: int) -> None:
        """Learn from the last verification: ``accepted`` of the ``drafted`` tokens were kept."""
        self.draft_length = next_draft_length(
            self.draft_length, drafted, accepted, most=self.num_draft, least=self.min_draft, grow=2
        )

    def _index(self, ids: Sequence[int]) -> None:
        seen = len(self._indexed)
        if len(ids) < seen or list(ids[:seen]) != self._indexed:
            self._ends, self._indexed, seen = {}, [], 0
        for end in range(seen, len(ids)):
            for n in range(self.min_ngram, min(self.max_ngram, end + 1) + 1):
                self._ends.setdefault(tuple(ids[end - n + 1 : end + 1]), []).append(end)
        self._indexed.extend(ids[seen:])


def _shared_context(ids: Sequence[int], end: int, last: int) -> int:
    """How many tokens before and at ``end`` equal those before and at ``last`` (at most MAX_CONTEXT)."""
    n = 0
    while n < MAX_CONTEXT and end - n >= 0 and ids[end - n] == ids[last - n]:
        n += 1
    return n


def accept_greedy(logits: Any, draft: Sequence[int]) -> list[int]:
    """The tokens greedy decoding produces from one verification pass: the draft's longest prefix that agrees with
    the argmax, then the argmax after it. ``logits`` has one row per position: after the last kept token, then after
    each draft token."""
    best = logits.argmax(dim=-1).tolist()
    n = 0
    while n < len(draft) and draft[n] == best[n]:
        n += 1
    return best[: n + 1]


def accept_sampled(probs: Any, draft: Sequence[int], generator: Any) -> list[int]:
    """The tokens sampling produces from one verification pass, distributed exactly as token-by-token sampling.

    ``probs`` holds the target distribution (temperature and nucleus applied, each row summing to 1) of each
    position, as ``accept_greedy``'s logits. A draft is deterministic, so draft token x is kept with probability
    p(x) (the speculative-sampling rule min(1, p/q) with q = 1); at the first rejection the token is drawn from p
    without x, renormalised, and the pass ends; a draft kept whole is followed by a draw from the last row.
    """
    import torch

    probs = probs.cpu()  # the generator draws on the CPU, as sampling.sample does
    kept: list[int] = []
    for position, token in enumerate(draft):
        row = probs[position]
        if float(torch.rand((), generator=generator)) < float(row[token]):
            kept.append(token)
            continue
        residual = row.clone()
        residual[token] = 0.0
        if not bool(residual.sum() > 0):  # p(x) was 1 up to rounding: nothing else can be drawn
            kept.append(token)
            continue
        kept.append(int(torch.multinomial(residual, 1, generator=generator)))
        return kept
    kept.append(int(torch.multinomial(probs[len(draft)], 1, generator=generator)))
    return kept


def next_draft_length(
    length: int, drafted: int, accepted: int, *, most: int, least: int = 1, grow: int
) -> int:
    """A drafter's next draft length after a verification: ``grow`` more (up to ``most``) when the whole draft was
    kept, one fewer (down to ``least``) after a rejection, unchanged when nothing was drafted."""
    if drafted == 0:
        return length
    if accepted == drafted:
        return min(most, length + grow)
    return max(least, length - 1)
