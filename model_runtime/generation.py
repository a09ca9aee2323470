"""Sample k continuations of one prompt in one batch, stopping at the end of the next edit or of the sequence.

The decode loop is written out instead of calling ``model.generate`` because the k candidates share one prompt: the
prompt is run once at batch 1 and its KV cache repeated k times (``generate`` would run k padded copies); the
prompt's cache is kept between calls, so a prompt that extends or repeats the last one only runs its new tokens;
candidates that finished leave the batch; and cancellation is checked before every forward pass. A long prompt runs
in chunks of ``PREFILL_CHUNK`` tokens, so cancelling never waits for a whole prompt, and the chunks already run are
kept for the next call. Prompt caches are kept per ``cache_key`` (a document), a few of them (``prompt_cache``).

A single candidate (k = 1, the editor's and the evaluation's case) decodes speculatively unless asked not to:
tokens copied from earlier in the text (``speculation.PromptLookup``) are checked in one forward pass with the
token before them, and those the model agrees with are kept, several tokens for one pass over the weights. The
output is the same as without (greedy: token for token, ``verify_pass``; sampling: the same distribution), and
every stop rule, the streaming and the cancellation behave as without.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

from model_runtime.cancellation import CancelFlag, Cancelled, check  # noqa: F401 (Cancelled: callers import it from here)
from model_runtime.draft_model import drafter_for
from model_runtime.edits import SEPARATOR
from model_runtime.loading import LoadedModel
from model_runtime.prefill import forward, logits_of, prefill
from model_runtime.sampling import Sampling, sample, target_probs
from model_runtime.speculation import DEFAULT_DRAFT, PromptLookup, accept_greedy, accept_sampled
from model_runtime.stop_rules import Row, Rules

STOP_MODES = ("edit", "sequence", "eos")
# Draft tokens per verification pass for k = 1 (0: no speculation); the ``speculate`` argument overrides it.
SPECULATE_ENV = "EDITSEQ_SPECULATE"


@dataclass(frozen=True)
class Timings:
    """Wall-clock timings of one call: time to the first sampled token, total, and generated tokens per second;
    with speculation, how many draft tokens were checked and how many of them kept (the acceptance rate)."""

    first_token_s: float
    total_s: float
    new_tokens: int
    tokens_per_s: float
    drafted_tokens: int = 0
    accepted_draft_tokens: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Candidate:
    """One sampled continuation: its text (without the closing separator or eos) and per-token log-probabilities.

    ``finish`` is ``"stop"`` (the edit or sequence ended as the format says), ``"eos"``, or ``"length"``.
    """

    text: str
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    finish: str

    @property
    def mean_logprob(self) -> float:
        return sum(self.logprobs) / len(self.logprobs) if self.logprobs else float("-inf")


@dataclass(frozen=True)
class GenerationResult:
    candidates: list[Candidate]
    timings: Timings
    prompt_tokens: int
    reused_prompt_tokens: int = 0


def generate(
    loaded: LoadedModel,
    prompt_text: str,
    *,
    k: int = 1,
    temperature: float = 0.8,
    top_p: float = 0.95,
    max_new_tokens: int = 128,
    stop: str = "edit",
    cancel: CancelFlag | None = None,
    on_token: Callable[[int, str], None] | None = None,
    seed: int | None = None,
    stop_texts: tuple[str, ...] = (),
    stop_at_start: tuple[str, ...] = (),
    speculate: int | None = None,
    cache_key: Hashable = None,
    not_first: tuple[str, ...] = (),
    line_stop: Callable[[list[str]], bool] | None = None,
    draft: LoadedModel | None = None,
    draft_after_lookup: bool = True,
) -> GenerationResult:
    """Sample ``k`` continuations of ``prompt_text``.

    ``stop="edit"`` ends a candidate at the next ``<|diff|>`` (the end of the next edit) or eos; ``stop="sequence"``
    ends it at eos or at the empty edit that closes a LintSeq sequence; ``stop="eos"`` at eos only. Any of
    ``stop_texts`` (for example a closing code fence) also ends a candidate; its text is cut before it. ``stop_at_start`` texts end a candidate
    that begins with one of them, and its text is then empty (a model repeating what follows instead of adding to
    it). ``not_first`` texts may not begin a candidate: the first tokens of their encodings are never sampled
    first (a code fence that would close an empty function body at once). ``line_stop(lines)`` sees a candidate's
    complete lines each time one is completed and may end it there (``stop_rules``). ``temperature == 0`` decodes
    greedily.
    ``on_token(index, piece)`` receives each candidate's new text as it is produced. ``cancel.is_set()`` is checked
    before every forward pass; a cancelled call raises Cancelled.
    ``speculate``: draft tokens per verification pass when ``k == 1`` (0: none; None: ``$EDITSEQ_SPECULATE``, else
    ``speculation.DEFAULT_DRAFT``). ``cache_key`` names the prompt cache to reuse and refresh (a document's URI;
    None: the shared slot). ``draft``: a smaller model with the same tokenizer that proposes the draft tokens
    (``draft_model``), asked only where prompt lookup finds nothing unless ``draft_after_lookup`` is False.
    """
    import torch

    if k < 1 or max_new_tokens < 1:
        raise ValueError("k and max_new_tokens must be at least 1")
    if stop not in STOP_MODES:
        raise ValueError(f"unknown stop mode {stop!r}; choose one of {', '.join(STOP_MODES)}")
    drafts = draft_tokens(speculate, os.environ) if k == 1 else 0
    cancel = cancel or threading.Event()
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed if seed is not None else torch.seed() % (2**63))
    sampling = Sampling(temperature, top_p, generator)
    tokenizer = loaded.tokenizer
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    if not prompt_ids:
        raise ValueError("the prompt is empty")
    stop_ids = frozenset(loaded.eos_token_ids)
    rules = Rules(
        tokenizer, loaded.diff_token_id, stop_ids, stop, stop_texts, stop_at_start, on_token, line_stop
    )

    drafter = (
        drafter_for(loaded, PromptLookup(drafts), draft, cancel, cache_key, draft_after_lookup)
        if drafts
        else None
    )
    started = time.perf_counter()
    rows = [Row() for _ in range(k)]
    drafted = accepted = 0
    with loaded.lock, torch.inference_mode():
        logits, cache, reused = prefill(loaded, prompt_ids, cancel, cache_key)
        if not_first:
            logits = logits.clone()
            logits[..., _first_tokens(tokenizer, not_first)] = float("-inf")
        if drafter is not None:
            first_token_s, drafted, accepted = _decode_speculative(
                loaded,
                logits,
                cache,
                prompt_ids,
                rows[0],
                rules,
                sampling,
                max_new_tokens,
                cancel,
                started,
                drafter,
            )
        else:
            first_token_s = _decode_batch(
                loaded, logits, cache, rows, rules, sampling, max_new_tokens, cancel, started
            )
    total = time.perf_counter() - started
    candidates = [
        _candidate(row, tokenizer, loaded.diff_token_id, stop_ids, stop_texts, stop_at_start) for row in rows
    ]
    new_tokens = sum(len(row.ids) for row in rows)
    rate = new_tokens / total if total > 0 else 0.0
    timings = Timings(first_token_s, total, new_tokens, rate, drafted, accepted)
    return GenerationResult(candidates, timings, len(prompt_ids), reused)


def _first_tokens(tokenizer, texts: tuple[str, ...]) -> list[int]:
    """The first token of each text's encoding, alone and after a space (when that token holds more than the
    space: a text may not begin a candidate, a space may)."""
    firsts: set[int] = set()
    for text in texts:
        for variant in (text, " " + text):
            first = tokenizer(variant, add_special_tokens=False)["input_ids"][:1]
            if first and tokenizer.decode(first).strip():
                firsts.update(first)
    return sorted(firsts)


def draft_tokens(speculate: int | None, environ: Mapping[str, str]) -> int:
    """Draft tokens per verification pass: ``speculate`` if given, else ``$EDITSEQ_SPECULATE``, else the default;
    0 turns speculation off."""
    if speculate is None and environ.get(SPECULATE_ENV, "").strip():
        try:
            speculate = int(environ[SPECULATE_ENV])
        except ValueError:
            raise ValueError(
                f"{SPECULATE_ENV} must be a whole number, not {environ[SPECULATE_ENV]!r}"
            ) from None
    if speculate is None:
        return DEFAULT_DRAFT
    if speculate < 0:
        raise ValueError(f"speculate must be 0 (off) or a number of draft tokens, not {speculate}")
    return speculate


def _decode_batch(
    loaded: LoadedModel,
    logits,
    cache,
    rows: list[Row],
    rules: Rules,
    sampling: Sampling,
    max_new_tokens: int,
    cancel: CancelFlag,
    started: float,
) -> float:
    """Decode all ``rows`` one token per forward pass, the prompt's cache repeated for each; returns the time to
    the first token."""
    import torch

    first_token_s = 0.0
    k = len(rows)
    logits = logits.expand(k, -1)
    cache.batch_repeat_interleave(k)
    active = list(range(k))
    for step in range(max_new_tokens):
        token, logprob = sample(logits, sampling.temperature, sampling.top_p, sampling.generator)
        if step == 0:
            first_token_s = time.perf_counter() - started
        still = []
        # One conversion per step: indexing a tensor element by element costs microseconds per row.
        for position, (index, token_id, token_logprob) in enumerate(
            zip(active, token.tolist(), logprob.tolist(), strict=True)
        ):
            if not rules.take(rows[index], index, token_id, token_logprob):
                still.append(position)
        if not still or step == max_new_tokens - 1:
            break
        check(cancel)
        if len(still) < len(active):
            keep = torch.tensor(still, device=logits.device)
            cache.batch_select_indices(keep)
            token = token[keep]
            active = [active[p] for p in still]
        logits = forward(loaded.model, token[:, None].to(loaded.device), cache)
    return first_token_s


def _decode_speculative(
    loaded: LoadedModel,
    logits,
    cache,
    prompt_ids: list[int],
    row: Row,
    rules: Rules,
    sampling: Sampling,
    max_new_tokens: int,
    cancel: CancelFlag,
    started: float,
    drafter: PromptLookup,
) -> tuple[float, int, int]:
    """Decode one candidate, each forward pass verifying the drafter's guess after the last token.

    The cache always holds every token but the last one taken; a pass runs that token and the draft, and the rows
    of rejected draft tokens are cropped off again. Tokens are taken one at a time through the same rules as
    ``_decode_batch``, so a stop inside an accepted draft ends the candidate there, and ``cancel`` is checked
    between any two tokens. Returns (time to the first token, tokens drafted, draft tokens accepted).
    """
    import torch

    from model_runtime.verify_pass import exact_rows

    token, logprob = sample(logits, sampling.temperature, sampling.top_p, sampling.generator)
    first_token_s = time.perf_counter() - started
    new, logprobs = token.tolist(), logprob.tolist()
    text = list(prompt_ids)  # what the drafter looks in: the prompt and the tokens taken
    drafted = accepted = 0
    while True:
        for position, (token_id, token_logprob) in enumerate(zip(new, logprobs, strict=True)):
            if position:
                check(cancel)
            if rules.take(row, 0, token_id, token_logprob) or len(row.ids) == max_new_tokens:
                return first_token_s, drafted, accepted
        text.extend(new)
        check(cancel)
        # The pass yields up to len(draft) + 1 tokens; never more than max_new_tokens allows.
        draft = drafter.get_candidates(text)[: max_new_tokens - len(row.ids) - 1]
        step = torch.tensor([[text[-1], *draft]], device=loaded.device)
        with exact_rows(loaded.model, len(draft) + 1, loaded.device) if draft else contextlib.nullcontext():
            block = logits_of(loaded.model, step, cache, keep=len(draft) + 1)[0]
        if sampling.temperature <= 0:
            new = accept_greedy(block, draft)
        else:
            new = accept_sampled(target_probs(block, sampling), draft, sampling.generator)
        kept = len(new) - 1
        drafter.update(len(draft), kept)
        drafted, accepted = drafted + len(draft), accepted + kept
        if kept < len(draft):
            cache.crop(kept - len(draft))
        chosen = block[: len(new)]
        picked = torch.tensor(new, device=chosen.device)[:, None]
        logprobs = (chosen.gather(-1, picked).squeeze(-1) - torch.logsumexp(chosen, dim=-1)).tolist()


def _candidate(
    row: Row,
    tokenizer,
    diff_id: int,
    stop_ids: frozenset[int],
    stop_texts: tuple[str, ...] = (),
    stop_at_start: tuple[str, ...] = (),
) -> Candidate:
    ids = row.ids
    if (
        row.finish in ("eos", "stop")
        and ids
        and (ids[-1] in stop_ids or (row.finish == "stop" and ids[-1] == diff_id))
    ):
        ids = ids[:-1]
    text = tokenizer.decode(ids, skip_special_tokens=False)
    if row.finish == "stop" and any(text.startswith(start) for start in stop_at_start):
        return Candidate("", tuple(row.ids), tuple(row.logprobs), "stop")
    cuts = [i for i in (text.find(stop_text) for stop_text in stop_texts) if i >= 0]
    if cuts:
        return Candidate(text[: min(cuts)], tuple(row.ids), tuple(row.logprobs), "stop")
    if row.finish == "stop" and text.endswith("\n"):
        text = text[:-1]  # the newline belongs to the separator "\n<|diff|>"
    while text.endswith(SEPARATOR):  # a whole sequence's closing separators are not part of its last edit
        text = text[: -len(SEPARATOR)]
    return Candidate(text, tuple(row.ids), tuple(row.logprobs), row.finish or "length")
