"""Greedy first, samples after: the first suggestion comes from one greedy candidate, the others follow it.

A request for k candidates decodes them as one batch of k (``generation``), which takes longer than one (twice as
long for three, below) and cannot use speculative decoding (a batch of k samples has no single path to draft along). The editor shows
the first suggestion as ghost text the moment it has one, so the server asks in two passes: first one greedy
candidate (k = 1, temperature 0: it decodes speculatively from the document's prompt cache), which is answered at
once, with or without a suggestion; then k - 1 sampled candidates on the same prompt, already cached, which join
the list when they are done (``merged``). Waiting for the samples when the greedy candidate did not validate
would double the wait for little: on the edit benchmark the samples rescued none of the requests the greedy
candidate left unanswered (docs/speed.md). With the 0.5B model on two cores, after a one-line edit in a
500-line file, k = 3: answered in p50 0.87 s / p95 1.32 s this way, against 1.72 s / 5.61 s as one batch of three
(same spots, same run; ``benchmarks/edit_latency.py --k 3 --modes batch,greedy-first``).
"""

from __future__ import annotations

import dataclasses

from model_runtime.edits import normalise
from model_runtime.suggestions import SuggestResult

# The options of the first pass, whatever was asked: one greedy candidate.
FIRST_PASS = {"k": 1, "temperature": 0.0}


def passes(k: int, temperature: float, greedy_first: bool = True) -> list[dict]:
    """The calls one request for ``k`` candidates at ``temperature`` makes: the greedy pass, then the sampled one
    (when there is one), or with ``greedy_first`` off all ``k`` in one call."""
    if not greedy_first:
        return [{"k": k, "temperature": temperature}]
    later = later_pass(k, temperature)
    return [FIRST_PASS] if later is None else [FIRST_PASS, later]


def later_pass(k: int, temperature: float) -> dict | None:
    """The options of the second pass (the other ``k - 1`` candidates, sampled), or None when k = 1 or the request
    is greedy (``temperature`` 0 gives the same candidate again)."""
    if k <= 1 or temperature <= 0:
        return None
    return {"k": k - 1, "temperature": temperature}


def merged(first: SuggestResult, later: SuggestResult) -> SuggestResult:
    """``first``'s suggestions, in their order (the one already shown stays first), then ``later``'s that end in
    another program, best first; the counts of what was dropped are added. Timings stay ``first``'s: they are the
    time to the first suggestion."""
    if first.buffer_error:
        return first
    seen = {tuple(normalise(s.final_program or s.program)) for s in first.suggestions}
    added = []
    repeated = 0
    for suggestion in later.suggestions:
        key = tuple(normalise(suggestion.final_program or suggestion.program))
        if key in seen:
            repeated += 1
            continue
        seen.add(key)
        added.append(suggestion)
    return dataclasses.replace(
        first,
        suggestions=[*first.suggestions, *added],
        dropped_malformed=first.dropped_malformed + later.dropped_malformed,
        dropped_invalid=first.dropped_invalid + later.dropped_invalid,
        duplicates=first.duplicates + later.duplicates + repeated,
        recounted=first.recounted + later.recounted,
        non_insertions=first.non_insertions + later.non_insertions,
    )
