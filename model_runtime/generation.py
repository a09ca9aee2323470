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
import copy
import functools
import inspect
import os
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from model_runtime.edits import SEPARATOR
from model_runtime.loading import LoadedModel
from model_runtime.prompt_cache import CachedPrompt, PromptCache
from model_runtime.speculation import DEFAULT_DRAFT, PromptLookup, accept_greedy, accept_sampled

STOP_MODES = ("edit", "sequence", "eos")
# Tokens decoded again at each step to look for a stop text (more for a longer stop text).
STOP_TEXT_TAIL = 16
# Prompt tokens per prefill forward pass: cancellation is checked between chunks. On the 2-core CPU, for 1,000- and
# 2,000-token SmolLM2-135M prompts, 256-token chunks cut the wait for a cancel from 0.5-1.1 s to 0.2-0.4 s (p50),
# prefilling between 7 % faster and 13 % slower than one pass; 128-token chunks wait less but prefill 14-47 % slower
# (benchmarks/prefill_chunks.py, two runs).
PREFILL_CHUNK = 256
# Draft tokens per verification pass for k = 1 (0: no speculation); the ``speculate`` argument overrides it.
SPECULATE_ENV = "EDITSEQ_SPECULATE"


class Cancelled(Exception):
    """Generation was cancelled through its ``cancel`` event."""


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


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


@dataclass
class _Row:
    ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    since_separator: list[int] = field(default_factory=list)
    finish: str = ""
    emitted: str = ""


@dataclass(frozen=True)
class _Rules:
    """One call's stop rules and listener: what ends a candidate, and who hears of its new text."""

    tokenizer: Any
    diff_id: int
    stop_ids: frozenset[int]
    stop: str
    stop_texts: tuple[str, ...]
    on_token: Callable[[int, str], None] | None

    def take(self, row: _Row, index: int, token_id: int, logprob: float) -> bool:
        """Append a token to candidate ``index``, stream it, and say whether the candidate has finished."""
        row.ids.append(token_id)
        row.logprobs.append(logprob)
        row.finish = _finish(row, token_id, self.diff_id, self.stop_ids, self.stop, self.tokenizer)
        if not row.finish and self.stop_texts and _ends_with_stop(row.ids, self.stop_texts, self.tokenizer):
            row.finish = "stop"
        if self.on_token is not None:
            _stream(row, index, self.tokenizer, self.on_token)
        return bool(row.finish)


@dataclass(frozen=True)
class _Sampling:
    temperature: float
    top_p: float
    generator: Any


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
    speculate: int | None = None,
    cache_key: Hashable = None,
) -> GenerationResult:
    """Sample ``k`` continuations of ``prompt_text``.

    ``stop="edit"`` ends a candidate at the next ``<|diff|>`` (the end of the next edit) or eos; ``stop="sequence"``
    ends it at eos or at the empty edit that closes a LintSeq sequence; ``stop="eos"`` at eos only. Any of
    ``stop_texts`` (for example a closing code fence) also ends a candidate; its text is cut before it. ``temperature == 0`` decodes greedily.
    ``on_token(index, piece)`` receives each candidate's new text as it is produced. ``cancel.is_set()`` is checked
    before every forward pass; a cancelled call raises Cancelled.
    ``speculate``: draft tokens per verification pass when ``k == 1`` (0: none; None: ``$EDITSEQ_SPECULATE``, else
    ``speculation.DEFAULT_DRAFT``). ``cache_key`` names the prompt cache to reuse and refresh (a document's URI;
    None: the shared slot).
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
    sampling = _Sampling(temperature, top_p, generator)
    tokenizer = loaded.tokenizer
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    if not prompt_ids:
        raise ValueError("the prompt is empty")
    stop_ids = frozenset(loaded.eos_token_ids)
    rules = _Rules(tokenizer, loaded.diff_token_id, stop_ids, stop, stop_texts, on_token)

    started = time.perf_counter()
    rows = [_Row() for _ in range(k)]
    drafted = accepted = 0
    with loaded.lock, torch.inference_mode():
        logits, cache, reused = _prefill(loaded, prompt_ids, cancel, cache_key)
        if drafts:
            drafter = PromptLookup(drafts)
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
    candidates = [_candidate(row, tokenizer, loaded.diff_token_id, stop_ids, stop_texts) for row in rows]
    new_tokens = sum(len(row.ids) for row in rows)
    rate = new_tokens / total if total > 0 else 0.0
    timings = Timings(first_token_s, total, new_tokens, rate, drafted, accepted)
    return GenerationResult(candidates, timings, len(prompt_ids), reused)


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
    rows: list[_Row],
    rules: _Rules,
    sampling: _Sampling,
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
        token, logprob = _sample(logits, sampling.temperature, sampling.top_p, sampling.generator)
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
        _check(cancel)
        if len(still) < len(active):
            keep = torch.tensor(still, device=logits.device)
            cache.batch_select_indices(keep)
            token = token[keep]
            active = [active[p] for p in still]
        logits = _forward(loaded.model, token[:, None].to(loaded.device), cache)
    return first_token_s


def _decode_speculative(
    loaded: LoadedModel,
    logits,
    cache,
    prompt_ids: list[int],
    row: _Row,
    rules: _Rules,
    sampling: _Sampling,
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

    token, logprob = _sample(logits, sampling.temperature, sampling.top_p, sampling.generator)
    first_token_s = time.perf_counter() - started
    new, logprobs = token.tolist(), logprob.tolist()
    text = list(prompt_ids)  # what the drafter looks in: the prompt and the tokens taken
    drafted = accepted = 0
    while True:
        for position, (token_id, token_logprob) in enumerate(zip(new, logprobs, strict=True)):
            if position:
                _check(cancel)
            if rules.take(row, 0, token_id, token_logprob) or len(row.ids) == max_new_tokens:
                return first_token_s, drafted, accepted
        text.extend(new)
        _check(cancel)
        # The pass yields up to len(draft) + 1 tokens; never more than max_new_tokens allows.
        draft = drafter.get_candidates(text)[: max_new_tokens - len(row.ids) - 1]
        step = torch.tensor([[text[-1], *draft]], device=loaded.device)
        with exact_rows(loaded.model, len(draft) + 1, loaded.device) if draft else contextlib.nullcontext():
            block = _logits(loaded.model, step, cache, keep=len(draft) + 1)[0]
        if sampling.temperature <= 0:
            new = accept_greedy(block, draft)
        else:
            new = accept_sampled(_target_probs(block, sampling), draft, sampling.generator)
        kept = len(new) - 1
        drafter.update(len(draft), kept)
        drafted, accepted = drafted + len(draft), accepted + kept
        if kept < len(draft):
            cache.crop(kept - len(draft))
        chosen = block[: len(new)]
        picked = torch.tensor(new, device=chosen.device)[:, None]
        logprobs = (chosen.gather(-1, picked).squeeze(-1) - torch.logsumexp(chosen, dim=-1)).tolist()


def _target_probs(logits, sampling: _Sampling):
    """Each row's sampling distribution (temperature, then the nucleus), renormalised: what ``_sample`` draws from."""
    import torch

    scaled = logits / sampling.temperature
    if sampling.top_p < 1.0:
        kept = _nucleus(scaled, sampling.top_p)
        return kept / kept.sum(dim=-1, keepdim=True)
    return torch.softmax(scaled, dim=-1)


def _check(cancel: CancelFlag) -> None:
    if cancel.is_set():
        raise Cancelled("generation was cancelled")


def _prompt_store(loaded: LoadedModel) -> PromptCache:
    """The model's prompt caches (``loaded.prompt_cache``; setting it to None clears them)."""
    if not isinstance(loaded.prompt_cache, PromptCache):
        loaded.prompt_cache = PromptCache()
    return loaded.prompt_cache


def _prefill(
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

    store = _prompt_store(loaded)
    stored = store.get(key)
    reused = 0
    cache = growing_cache()
    logits = None
    if stored is not None:
        reused = _common_prefix(stored.ids, prompt_ids)
        if reused == len(prompt_ids) == len(stored.ids):
            _check(cancel)
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
        logits = _forward(loaded.model, torch.tensor([chunk], device=loaded.device), cache)
        done += len(chunk)
    store.put(key, CachedPrompt(list(prompt_ids), copy.deepcopy(cache), logits.clone()))
    return logits, cache, reused


def _forward(model, input_ids, cache):
    """Next-token logits (float32) of the last position; ``cache`` is extended in place."""
    return _logits(model, input_ids, cache, keep=1)[:, -1, :]


def _logits(model, input_ids, cache, *, keep: int):
    """Logits (float32) of the last ``keep`` positions, shape (batch, keep, vocabulary); ``cache`` is extended."""
    # transformers 5 renamed the argument to ``cache``; models written for older versions still take the old name.
    arguments = _forward_arguments(type(model))
    extra = {"logits_to_keep": keep} if "logits_to_keep" in arguments else {}
    # logits_to_keep: the prompt's other positions need no vocabulary projection (a 300-token SmolLM2 prompt
    # spends about 8 GFLOP on logits nobody reads).
    out = model(input_ids=input_ids, use_cache=True, **{_cache_argument(type(model)): cache}, **extra)
    return out.logits[:, -keep:, :].float()


@functools.lru_cache(maxsize=16)
def _forward_arguments(model_class: type) -> frozenset[str]:
    return frozenset(inspect.signature(model_class.forward).parameters)


def _cache_argument(model_class: type) -> str:
    return "cache" if "cache" in _forward_arguments(model_class) else "past_key_values"


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


# Nucleus sampling looks at this many most likely tokens first; a full-vocabulary sort is needed only when their
# mass stays below top_p (rare at the temperatures used), so the result is exact either way.
TOP_K_FIRST = 64


def _sample(logits, temperature: float, top_p: float, generator):
    """Next tokens (one per row) and their log-probabilities under the model (temperature 1, no truncation)."""
    import torch

    if temperature <= 0:
        token = logits.argmax(dim=-1)
    else:
        scaled = logits / temperature
        if top_p < 1.0:
            # Draw among the nucleus only: a multinomial over the whole vocabulary costs milliseconds per step
            # (49k tokens for SmolLM2) for the same distribution.
            kept, order = _nucleus_kept(scaled, top_p)
            drawn = torch.multinomial(kept.cpu(), 1, generator=generator).to(logits.device)
            token = order.gather(-1, drawn).squeeze(-1)
        else:
            probs = torch.softmax(scaled, dim=-1)
            token = torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(-1).to(logits.device)
    # log p(token) = logit - logsumexp(logits): one pass over the vocabulary instead of a full log_softmax copy.
    return token, logits.gather(-1, token[:, None]).squeeze(-1) - torch.logsumexp(logits, dim=-1)


def _nucleus(scaled, top_p: float):
    """Probabilities restricted to the smallest set of tokens whose mass reaches top_p (the most likely token is
    always kept), zero elsewhere and not renormalised (``torch.multinomial`` does that); rows of ``scaled`` are
    logits divided by the temperature."""
    import torch

    kept, order = _nucleus_kept(scaled, top_p)
    return torch.zeros_like(scaled).scatter(-1, order, kept)


def _nucleus_kept(scaled, top_p: float):
    """(kept, order): the nucleus probabilities (not renormalised; zero outside the nucleus) of the tokens
    ``order``, most likely first: the top TOP_K_FIRST tokens, or the whole vocabulary when those hold less than
    top_p in some row."""
    import torch

    log_total = torch.logsumexp(scaled, dim=-1, keepdim=True)
    k = min(TOP_K_FIRST, scaled.shape[-1])
    top, order = scaled.topk(k, dim=-1)
    top_probs = (top - log_total).exp()
    if bool((top_probs.sum(dim=-1) < top_p).any()) and k < scaled.shape[-1]:
        top, order = scaled.sort(dim=-1, descending=True)
        top_probs = (top - log_total).exp()
    drop = top_probs.cumsum(dim=-1) - top_probs > top_p
    return top_probs.masked_fill(drop, 0.0), order


def _finish(row: _Row, token_id: int, diff_id: int, stop_ids: frozenset[int], stop: str, tokenizer) -> str:
    if token_id in stop_ids:
        return "eos"
    if token_id == diff_id:
        if stop == "edit":
            return "stop"
        # Two separators with nothing between them close a LintSeq sequence.
        closing = not tokenizer.decode(row.since_separator).strip()
        row.since_separator = []
        return "stop" if closing else ""
    row.since_separator.append(token_id)
    return ""


def _ends_with_stop(ids: list[int], stop_texts: tuple[str, ...], tokenizer) -> bool:
    # Every token holds at least one character, so this many tokens hold the longest stop text (a whole line).
    width = max(STOP_TEXT_TAIL, max(map(len, stop_texts)) + 1)
    tail = tokenizer.decode(ids[-width:], skip_special_tokens=False)
    return any(text in tail for text in stop_texts)


def _stream(row: _Row, index: int, tokenizer, on_token: Callable[[int, str], None]) -> None:
    text = tokenizer.decode(row.ids, skip_special_tokens=False)
    if text.startswith(row.emitted) and len(text) > len(row.emitted):
        on_token(index, text[len(row.emitted) :])
        row.emitted = text


def _candidate(
    row: _Row, tokenizer, diff_id: int, stop_ids: frozenset[int], stop_texts: tuple[str, ...] = ()
) -> Candidate:
    ids = row.ids
    if (
        row.finish in ("eos", "stop")
        and ids
        and (ids[-1] in stop_ids or (row.finish == "stop" and ids[-1] == diff_id))
    ):
        ids = ids[:-1]
    text = tokenizer.decode(ids, skip_special_tokens=False)
    cuts = [i for i in (text.find(stop_text) for stop_text in stop_texts) if i >= 0]
    if cuts:
        return Candidate(text[: min(cuts)], tuple(row.ids), tuple(row.logprobs), "stop")
    if row.finish == "stop" and text.endswith("\n"):
        text = text[:-1]  # the newline belongs to the separator "\n<|diff|>"
    while text.endswith(SEPARATOR):  # a whole sequence's closing separators are not part of its last edit
        text = text[: -len(SEPARATOR)]
    return Candidate(text, tuple(row.ids), tuple(row.logprobs), row.finish or "length")
