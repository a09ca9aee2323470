"""Drawing the next token: greedy, temperature and nucleus (top-p) sampling, and the distribution they draw from
(which exact speculative sampling needs, ``speculation.accept_sampled``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sampling:
    """How one call draws its tokens: temperature (0: greedy), nucleus mass, the seeded generator."""

    temperature: float
    top_p: float
    generator: Any


# Nucleus sampling looks at this many most likely tokens first; a full-vocabulary sort is needed only when their
# mass stays below top_p (rare at the temperatures used), so the result is exact either way.
TOP_K_FIRST = 64


def sample(logits, temperature: float, top_p: float, generator):
    """Next tokens (one per row) and their log-probabilities under the model (temperature 1, no truncation)."""
    import torch

    if temperature <= 0:
        token = logits.argmax(dim=-1)
    else:
        scaled = logits / temperature
        if top_p < 1.0:
            # Draw among the nucleus only: a multinomial over the whole vocabulary costs milliseconds per step
            # (49k tokens for SmolLM2) for the same distribution.
            kept, order = nucleus_kept(scaled, top_p)
            drawn = torch.multinomial(kept.cpu(), 1, generator=generator).to(logits.device)
            token = order.gather(-1, drawn).squeeze(-1)
        else:
            probs = torch.softmax(scaled, dim=-1)
            token = torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(-1).to(logits.device)
    # log p(token) = logit - logsumexp(logits): one pass over the vocabulary instead of a full log_softmax copy.
    return token, logits.gather(-1, token[:, None]).squeeze(-1) - torch.logsumexp(logits, dim=-1)


def nucleus(scaled, top_p: float):
    """Probabilities restricted to the smallest set of tokens whose mass reaches top_p (the most likely token is
    always kept), zero elsewhere and not renormalised (``torch.multinomial`` does that); rows of ``scaled`` are
    logits divided by the temperature."""
    import torch

    kept, order = nucleus_kept(scaled, top_p)
    return torch.zeros_like(scaled).scatter(-1, order, kept)


def nucleus_kept(scaled, top_p: float):
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


def target_probs(logits, sampling: Sampling):
    """Each row's sampling distribution (temperature, then the nucleus), renormalised: what ``sample`` draws from."""
    import torch

    scaled = logits / sampling.temperature
    if sampling.top_p < 1.0:
        kept = nucleus(scaled, sampling.top_p)
        return kept / kept.sum(dim=-1, keepdim=True)
    return torch.softmax(scaled, dim=-1)
